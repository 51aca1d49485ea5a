"""What runs the stages: the Faust worker, the in-process pipeline, health pages, ONNX sessions, process lifetime."""
