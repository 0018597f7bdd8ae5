"""Managed model serving: SageMaker endpoints, Azure ML online deployments.

SageMaker refuses a KMS key (KmsKeyId) on endpoint configurations whose instances have local NVMe
instance storage (g4dn, g5, g6, g6e, p4d, p5, ... and the *d families): those volumes are always
encrypted by a hardware module on the instance. So the encryption rule accepts a configuration
without kmsKeyArn when any of its variants uses such an instance family - the shipped prod `embed`
endpoint on ml.g6.xlarge is exactly that case. The family list is the setting
`local_nvme_instance_families`.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from pulumi_policy import Severity

from .common import (
    STRING_LIST,
    Resource,
    Setting,
    Stack,
    UNKNOWN,
    as_list,
    get,
    label_of,
    need,
    resource_policy,
    stack_policy,
)

ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
SCALING_TARGET = "aws:appautoscaling/target:Target"
AZURE_ML_DEPLOYMENT = "azure-native:machinelearningservices:OnlineDeployment"

LOCAL_NVME_FAMILIES = ["c5d", "c6id", "m5d", "m6id", "r5d", "r6id", "g4dn", "g5", "g6", "g6e", "gr6", "p3dn",
                       "p4d", "p4de", "p5", "p5e", "p5en", "trn1", "trn1n"]
NVME = Setting("local_nvme_instance_families", {**STRING_LIST, "description":
               "SageMaker instance families with local NVMe storage, on which SageMaker rejects a KMS key; "
               "configurations using them may omit kmsKeyArn."}, LOCAL_NVME_FAMILIES)


def instance_family(instance_type: Any) -> str | None:
    """`g6` from `ml.g6.xlarge`."""
    if not isinstance(instance_type, str):
        return None
    parts = instance_type.split(".")
    if len(parts) >= 3 and parts[0] == "ml":
        return parts[1]
    return parts[0] if len(parts) == 2 else None


def check_endpoint_config_encrypted(config_resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    key = config_resource.get("kmsKeyArn")
    if key is UNKNOWN or (isinstance(key, str) and key):
        return  # an unknown ARN is a key created in this stack
    variants = as_list(config_resource.get("productionVariants")) + as_list(config_resource.get("shadowProductionVariants"))
    families = {instance_family(get(v, "instanceType")) for v in variants}
    if families & set(config["local_nvme_instance_families"]):
        return
    yield f"Set kmsKeyArn to a customer-managed KMS key on {label_of(config_resource)}."


def check_endpoint_autoscaling(stack: Stack, _config: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    targets = [t for t in stack.of_type(SCALING_TARGET) if t.get("serviceNamespace") in ("sagemaker", UNKNOWN)]
    for endpoint in stack.of_type(ENDPOINT):
        name = endpoint.get("name")
        prefix = f"endpoint/{name}/variant/" if isinstance(name, str) else None
        scaled = [t for t in targets
                  if t.depends_on(endpoint.urn, "resourceId")
                  or (prefix is not None and isinstance(t.get("resourceId"), str) and t.get("resourceId").startswith(prefix))]
        if not scaled:
            yield (f"Register {label_of(endpoint)} with an aws.appautoscaling.Target whose resourceId is "
                   f"endpoint/<name>/variant/<variant>.", endpoint.urn)


def check_azure_ml_probes(deployment: Resource, _config: Mapping[str, Any]) -> Iterator[str]:
    properties = need(deployment.get("properties"), "properties") or {}
    missing = [p for p in ("livenessProbe", "readinessProbe") if get(properties, p) is None]
    if missing:
        yield f"Set properties.{' and properties.'.join(missing)} on {label_of(deployment)}."


POLICIES = [
    resource_policy("sagemaker-endpoint-config-encrypted",
                    "SageMaker endpoint configurations must encrypt their storage with a customer-managed KMS key.",
                    [ENDPOINT_CONFIG], check_endpoint_config_encrypted, settings=[NVME]),
    stack_policy("sagemaker-endpoint-autoscaling",
                 "SageMaker endpoints must be registered with Application Auto Scaling.",
                 check_endpoint_autoscaling, severity=Severity.MEDIUM),
    resource_policy("azureml-online-deployment-probes",
                    "Azure ML online deployments must define liveness and readiness probes.",
                    [AZURE_ML_DEPLOYMENT], check_azure_ml_probes, severity=Severity.MEDIUM),
]
