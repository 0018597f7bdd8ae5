"""Pinned Helm charts: every chart the library installs, in one place.

One `Chart` per chart: where it comes from, the pinned chart version and the
application version that chart ships, where the pin was checked and when. A
bump is a deliberate change here (read the chart's release notes, and anything
pinned with it: the AWS Load Balancer Controller's IAM policy lives beside the
controller in `components/compute/aws.py`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chart:
    """A Helm chart pinned to one version."""

    name: str
    """The chart's name in its repository."""
    repo: str
    """The Helm repository URL (`helm repo add`)."""
    version: str
    """The pinned chart version (never a range)."""
    app_version: str
    """The application version this chart version ships (its `appVersion`)."""
    source: str
    """Where the pin was checked: the chart's Chart.yaml at a tag, a release page."""
    checked: str
    """Date the pin was checked (YYYY-MM-DD)."""


AWS_LOAD_BALANCER_CONTROLLER = Chart(
    name="aws-load-balancer-controller",
    repo="https://aws.github.io/eks-charts",
    version="1.14.0",
    app_version="v2.14.0",
    source="kubernetes-sigs/aws-load-balancer-controller helm/aws-load-balancer-controller/Chart.yaml at tag "
           "v2.14.0 (version 1.14.0, appVersion v2.14.0), published to the aws/eks-charts repository",
    checked="2026-12-08",
)
"""The AWS Load Balancer Controller (IngressClass `alb`). Its IAM policy (compute/aws.py
LB_CONTROLLER_IAM_POLICY) is the one published for this app version: bump both together."""

CERT_MANAGER = Chart(
    name="cert-manager",
    repo="https://charts.jetstack.io",
    version="v1.21.1",
    app_version="v1.21.1",
    source="cert-manager/cert-manager tag v1.21.1 (2026-07-29; chart and app share the release version, "
           "deploy/charts/cert-manager/README.template.md `--version {{RELEASE_VERSION}}`); 1.21 supports "
           "Kubernetes 1.33-1.36 (cert-manager.io docs, Supported Releases). OCI at "
           "oci://quay.io/jetstack/charts/cert-manager is the source of truth; the HTTP repository gets the same "
           "chart hours later (cert-manager.io docs, Helm installation)",
    checked="2026-12-08",
)
"""cert-manager, which the Azure entry installs for its certificates (ACME DNS-01 through the
environment's zone). Route 53 `auth.kubernetes.serviceAccountRef` needs 1.15 or later; Azure workload
identity 1.11 or later."""

KEDA = Chart(
    name="keda",
    repo="https://kedacore.github.io/charts",
    version="2.20.2",
    app_version="2.20.2",
    source="kedacore/charts keda/Chart.yaml at tag v2.20.2 (2026-07-31; version and appVersion 2.20.2, "
           "kubeVersion >=1.23)",
    checked="2026-12-08",
)
"""KEDA, which scales each cluster-mode endpoint on its server's metric from the cluster's managed
Prometheus (EKS and GKE; AKS runs KEDA as its managed add-on instead)."""

DCGM_EXPORTER = Chart(
    name="dcgm-exporter",
    repo="https://nvidia.github.io/dcgm-exporter/helm-charts",
    version="4.8.2",
    app_version="4.8.2",
    source="NVIDIA/dcgm-exporter deployment/Chart.yaml at tag 4.5.3-4.8.2 (2026-05-06; chart 4.8.2, image "
           "nvcr.io/nvidia/k8s/dcgm-exporter:4.5.3-4.8.2-distroless in deployment/values.yaml)",
    checked="2026-12-08",
)
"""NVIDIA's DCGM exporter: GPU utilisation, memory and health per GPU, on EKS and AKS GPU nodes (GKE
runs its managed DCGM metrics instead)."""
