"""Components used directly from a program: every argument problem is reported by the front door,
all at once, with its argument path, before the component registers anything."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from preflight.runtime import ProgramError, plan_stack

PRELUDE = '''
import pulumi
from components import Environment
from components.compute import ClusterOptions, KubernetesCluster, KubernetesClusterArgs
from components.network import NetworkOutputs
from components.serving import EndpointOptions, ModelEndpoint, ModelEndpointArgs

env = Environment("dev", {"owner": "ml-platform", "cost-center": "cc-1"})
'''

CASES = {
    "sagemaker endpoint without a store, with a public image": ('''
        options = EndpointOptions.model_validate({
            "name": "embed", "mode": "managed", "accelerator": {"gpu": "l4"},
            "model": {"artifact_path": "m/", "image": "docker.io/vllm/vllm-openai:v0.11.0", "port": 8000,
                      "health_path": "/health"}})
        ModelEndpoint("embed", ModelEndpointArgs(cloud="aws", region="us-east-1", environment=env, options=options,
                                                 bucket_name="b", bucket_url="s3://b"))
    ''', ["ModelEndpointArgs.store: missing", "ModelEndpointArgs.options.model.image: got",
          "ModelEndpointArgs.options.model.port: got 8000", "(4 problems)"]),
    "azure endpoint without a resource group or store": ('''
        options = EndpointOptions.model_validate({
            "name": "embed", "mode": "managed", "accelerator": {"gpu": "a100-80gb"},
            "model": {"artifact_path": "m/", "image": "acme.azurecr.io/server:1"}})
        ModelEndpoint("embed", ModelEndpointArgs(cloud="azure", region="eastus", environment=env, options=options,
                                                 bucket_name="b", bucket_url="https://b"))
    ''', ["ModelEndpointArgs.store: missing", "ModelEndpointArgs.resource_group_name: missing", "(2 problems)"]),
    "gke cluster on a network without secondary ranges, key in another region": ('''
        network = NetworkOutputs(network_id=pulumi.Output.from_input("n"),
                                 private_subnet_ids=[pulumi.Output.from_input("s")],
                                 zones=pulumi.Output.from_input([]))
        options = ClusterOptions.model_validate({
            "version": "1.33",
            "secrets_key_id": "projects/p/locations/europe-west1/keyRings/r/cryptoKeys/k"})
        KubernetesCluster("gke", KubernetesClusterArgs(cloud="gcp", region="us-central1", environment=env,
                                                       network=network, options=options, project="p"))
    ''', ["KubernetesClusterArgs.network", "pods and services ranges",
          "KubernetesClusterArgs.options.secrets_key_id", "cluster's region 'us-central1'", "(2 problems)"]),
    "eks cluster with a key in another region": ('''
        network = NetworkOutputs(network_id=pulumi.Output.from_input("n"),
                                 private_subnet_ids=[pulumi.Output.from_input("s")],
                                 zones=pulumi.Output.from_input(["us-east-1a"]))
        options = ClusterOptions.model_validate({
            "version": "1.33", "secrets_key_id": "arn:aws:kms:eu-west-1:123456789012:key/abc-123"})
        KubernetesCluster("eks", KubernetesClusterArgs(cloud="aws", region="us-east-1", environment=env,
                                                       network=network, options=options))
    ''', ["KubernetesClusterArgs.options.secrets_key_id: got 'arn:aws:kms:eu-west-1", "'us-east-1'"]),
}


@pytest.mark.parametrize("program,expected", CASES.values(), ids=list(CASES))
def test_argument_problems_come_before_anything_is_registered(tmp_path: Path, program: str,
                                                              expected: list[str]) -> None:
    (tmp_path / "stacks").mkdir()
    (tmp_path / "Pulumi.yaml").write_text("name: direct\nruntime: python\nstackConfigDir: stacks\n")
    (tmp_path / "stacks" / "Pulumi.dev.yaml").write_text("config: {}\n")
    (tmp_path / "__main__.py").write_text(PRELUDE + textwrap.dedent(program))
    with pytest.raises(ProgramError) as failure:
        plan_stack(tmp_path, "dev")
    assert failure.value.expected, failure.value  # an InputError: a message, no traceback
    assert failure.value.registered == 0
    for fragment in expected:
        assert fragment in str(failure.value), (fragment, str(failure.value))
