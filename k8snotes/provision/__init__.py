"""Provisioning: binaries built from Go module sources, a Docker engine, base images."""
