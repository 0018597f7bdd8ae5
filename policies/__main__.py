"""The aiinfra CrossGuard policy pack: `pulumi preview --policy-pack policies`, or `preflight check`.

Rules live in `rules/`, one module per area. This file only assembles the pack; it must print
nothing before the SDK writes the analyzer's port on stdout.
"""

from pulumi_policy import EnforcementLevel, PolicyPack

from rules import POLICIES, initial_config

PolicyPack(
    name="aiinfra-policies",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=POLICIES,
    initial_config=initial_config(),
)
