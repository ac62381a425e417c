# Small image for beat and workers: one Python layer with Marsad and its dependencies.
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY feeds feeds
COPY workers workers
COPY config config
# Not editable: the gazetteer ships inside the package (feeds/data), found from any folder.
RUN pip install -c constraints.txt . && useradd --system --home /app marsad && mkdir -p /app/var \
    && chown marsad /app/var
USER marsad
ENTRYPOINT ["marsad"]
CMD ["--help"]
