FROM debian:bookworm-slim
# 50 MB of data in one layer...
RUN head -c 50M /dev/urandom > /data.bin && sha256sum /data.bin > /data.sha256
# ...deleted in the next layer: hidden from the container, but still in the image
RUN rm /data.bin
