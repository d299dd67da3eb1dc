# Production-shaped image: the same code and settings as `make run`, served by gunicorn.
FROM python:3.13-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 \
    fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml constraints.txt ./
COPY . .
RUN pip install --no-cache-dir -c constraints.txt -e . \
 && SECRET_KEY=build DATABASE_URL=sqlite://:memory: EMAIL_URL=consolemail:// DEBUG=0 \
    python manage.py collectstatic --noinput
ENV PYTHONUNBUFFERED=1
EXPOSE 8000
CMD ["gunicorn", "billing_portal.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
