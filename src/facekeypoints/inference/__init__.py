"""Running a trained model on face crops: batches, test-time views, confidence, ONNX export, Kaggle submission."""
