"""The NVIDIA device plugin: makes `nvidia.com/gpu` schedulable on EKS and AKS nodes.

EKS's AL2023 NVIDIA AMI and AKS's GPU driver install bring drivers but no
device plugin; GKE runs its own, so none is installed there. This is the
upstream static DaemonSet (NVIDIA/k8s-device-plugin), pinned, tolerating the
GPU taint and AKS's spot taint, and scheduled only on GPU nodes.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from .args import GPU_NODE_LABEL, GPU_TAINT_KEY

DEVICE_PLUGIN_IMAGE = "nvcr.io/nvidia/k8s-device-plugin:v0.17.0"
"""Pinned upstream image; bump deliberately with the driver versions the node images ship."""


class NvidiaDevicePlugin(pulumi.ComponentResource):
    """The device plugin DaemonSet in `kube-system`, on every node labelled `nvidia.com/gpu.present=true`."""

    def __init__(self, name: str, provider: k8s.Provider, opts: pulumi.ResourceOptions | None = None):
        super().__init__("aiinfra:compute:NvidiaDevicePlugin", name, None, opts)
        labels = {"app.kubernetes.io/name": "nvidia-device-plugin", "app.kubernetes.io/managed-by": "pulumi"}
        self.daemon_set = k8s.apps.v1.DaemonSet(
            f"{name}-daemonset",
            metadata={"name": "nvidia-device-plugin", "namespace": "kube-system", "labels": labels},
            spec={
                "selector": {"match_labels": labels},
                "update_strategy": {"type": "RollingUpdate"},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "priority_class_name": "system-node-critical",
                        "node_selector": {GPU_NODE_LABEL: "true"},
                        "tolerations": [
                            {"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"},
                            {"key": "kubernetes.azure.com/scalesetpriority", "operator": "Equal",
                             "value": "spot", "effect": "NoSchedule"},
                        ],
                        "automount_service_account_token": False,
                        "security_context": {"seccomp_profile": {"type": "RuntimeDefault"}},
                        "containers": [{
                            "name": "nvidia-device-plugin",
                            "image": DEVICE_PLUGIN_IMAGE,
                            "env": [{"name": "FAIL_ON_INIT_ERROR", "value": "false"}],
                            # Root (uid 0) without privileges: the kubelet's device-plugin socket
                            # directory on the host is root-owned. Nothing else is granted.
                            "security_context": {"allow_privilege_escalation": False,
                                                 "privileged": False,
                                                 "read_only_root_filesystem": True,
                                                 "capabilities": {"drop": ["ALL"]},
                                                 "seccomp_profile": {"type": "RuntimeDefault"}},
                            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"},
                                          "limits": {"cpu": "200m", "memory": "256Mi"}},
                            "volume_mounts": [{"name": "device-plugin",
                                               "mount_path": "/var/lib/kubelet/device-plugins"}],
                        }],
                        "volumes": [{"name": "device-plugin",
                                     "host_path": {"path": "/var/lib/kubelet/device-plugins"}}],
                    },
                },
            },
            opts=pulumi.ResourceOptions(parent=self, provider=provider))
        # The plugin talks to the kubelet over a host socket and serves nothing: admit no traffic.
        k8s.networking.v1.NetworkPolicy(
            f"{name}-network-policy",
            metadata={"name": "nvidia-device-plugin", "namespace": "kube-system", "labels": labels},
            spec={"pod_selector": {"match_labels": labels}, "policy_types": ["Ingress"]},
            opts=pulumi.ResourceOptions(parent=self, provider=provider))
        self.register_outputs({"image": DEVICE_PLUGIN_IMAGE})
