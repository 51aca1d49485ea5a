"""Generated protobuf and gRPC code for claimstream.v1 (see protos/; regenerate with `make protos`)."""
