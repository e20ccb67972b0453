"""Photos in, keypoints out: reading images, detecting and framing faces, the predict pipeline, the web server."""
