"""Pinned container images the library runs itself (not the user's model server): in one place.

One `PinnedImage` per image: the upstream reference with its tag (and digest where a public source
states it), where the pin was checked and when. Pods pull them through the cell's image cache
(components/images). The model servers' releases are in `engines.py`; Helm charts in `charts.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .regions import CLOUDS, Cloud


@dataclass(frozen=True)
class PinnedImage:
    """A container image pinned to one version."""

    image: str
    """Upstream reference: `registry/path:tag` or `registry/path:tag@sha256:...`."""
    source: str
    """Where the pin was checked (release page, Dockerfile, registry listing)."""
    checked: str
    """Date the pin was checked (YYYY-MM-DD)."""


def model_loader(cloud: Cloud) -> PinnedImage:
    """The image of the init container that copies a model from the cell's store onto the pod
    (serving/<cloud>.py `model_loader`): the cloud's own copy tool."""
    match cloud:
        case "aws":
            return AWS_MODEL_LOADER
        case "azure":
            return AZURE_MODEL_LOADER
        case "gcp":
            return GCP_MODEL_LOADER
        case _:
            from ..common.dispatch import unknown
            unknown(cloud, "cloud", CLOUDS)


# --- each cloud's model loader (the copy tool's image) -------------------------------------------------

GCP_MODEL_LOADER = PinnedImage(
    image="docker.io/google/cloud-sdk:530.0.0-alpine@sha256:25acf81d3b7db5a22f5c5b8dad9b191b70f0cec2c0743ee59c5c9244ef7b6996",
    source="Google's Cloud SDK image on Docker Hub (GoogleCloudPlatform/cloud-sdk-docker cloudbuild.yaml pushes "
           "google/cloud-sdk:$TAG_NAME-alpine, the same build as gcr.io/google.com/cloudsdktool/google-cloud-cli); "
           "the Alpine variant carries gcloud core, `gcloud storage` included, and a POSIX sh for the loader "
           "script. Tag and digest as pinned by digest in public Dockerfiles (FROM google/cloud-sdk:530.0.0-alpine"
           "@sha256:25acf81d...), found through the code index; not read from the registry",
    checked="2026-12-08",
)
"""GCP: the Google Cloud CLI's Alpine image, for `gcloud storage rsync` (serving/gcp.py)."""

AZURE_MODEL_LOADER = PinnedImage(
    image="mcr.microsoft.com/azure-cli:2.73.0@sha256:eedd1fb2d6628c6a6f30c5e0cd31b2fd789151514fa0ab645ff440682e5586b7",
    source="Azure CLI docs 'Run the Azure CLI in a Docker container' (mcr.microsoft.com/azure-cli:<version>); the "
           "2.73.0 digest as pinned in a public Dockerfile (FROM mcr.microsoft.com/azure-cli:2.73.0@sha256:eedd1fb2...). "
           "Azure CLI, not AzCopy: Microsoft publishes no public AzCopy image (Azure/azure-storage-azcopy#423 open; "
           "PR #2817 pushes to a private registry) and the CLI image does not ship azcopy (microsoft/containerregistry#68), "
           "so `az storage blob download-batch` (Python SDK, no azcopy) copies the prefix",
    checked="2026-12-08",
)
"""Azure's model loader: `az login --federated-token` with the pod's workload identity, then
`az storage blob download-batch --auth-mode login` (serving/azure.py `model_loader`)."""

AWS_MODEL_LOADER = PinnedImage(
    image="public.ecr.aws/aws-cli/aws-cli:2.31.23@sha256:668ffb01408e03e1002b36886797c1a97b09f7d0f02fba3123f9fcd68a081dc5",
    source="the official AWS CLI v2 image on ECR Public (public.ecr.aws/aws-cli/aws-cli, entrypoint `aws`; the image "
           "sets no USER, and the CLI runs as any UID with HOME on a writable directory); tag and digest as pinned by "
           "digest in a public Dockerfile (FROM public.ecr.aws/aws-cli/aws-cli:2.31.23@sha256:668ffb01...), found "
           "through the code index; not read from the registry",
    checked="2026-12-08",
)
"""AWS: `aws s3 sync` from the cell's bucket prefix, through EKS Pod Identity (serving/aws.py)."""
