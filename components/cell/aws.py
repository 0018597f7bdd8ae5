"""AWS cell foundation: a provider pinned to the cell's region."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from ..common import Environment
from ..spec.model import AwsCell
from .foundation import Foundation


def foundation(parent: pulumi.Resource, spec: AwsCell, environment: Environment) -> Foundation:
    return Foundation(aws.Provider(f"{spec.name}-aws", region=spec.region, opts=pulumi.ResourceOptions(parent=parent)))
