# Baton's API and workers (one image; the command picks the role):
#   python -m api                              the HTTP API on BATON_API__HOST:BATON_API__PORT
#   python -m worker --queues workflows|documents|io
#   python -m starter.search_attributes         registers the search attributes (one shot)
# Configured only through BATON_... environment variables; see .env.example.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# OCR with German and French, and PDF rendering, for the document workers.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        tesseract-ocr tesseract-ocr-deu tesseract-ocr-fra poppler-utils \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src

# Dependencies first, so that a change of code does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . .
RUN pip install . && rm -rf /src

RUN useradd --system --uid 10001 --create-home --home-dir /var/lib/baton baton
USER baton
WORKDIR /var/lib/baton
ENV BATON_DATA_DIR=/var/lib/baton

EXPOSE 8000
CMD ["python", "-m", "api"]
