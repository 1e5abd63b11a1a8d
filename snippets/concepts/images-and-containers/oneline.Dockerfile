FROM debian:bookworm-slim
# Create, use and delete the data in ONE layer: nothing of it is left in the image
RUN head -c 50M /dev/urandom > /data.bin && sha256sum /data.bin > /data.sha256 && rm /data.bin
