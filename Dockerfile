# kurilwatch: slim runtime image, non-root. Build: docker build -t kurilwatch .
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY kurilwatch kurilwatch
COPY storage storage
COPY crawler crawler
COPY alerts alerts
COPY scheduler scheduler
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 kurilwatch
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER kurilwatch
WORKDIR /home/kurilwatch
ENTRYPOINT []
CMD ["kurilwatch", "run"]
