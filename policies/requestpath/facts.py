"""What controllers and DNS providers do, as data, each with its source.

The resolvers read these tables instead of hard-coding behaviour, and every hop that relies on a
fact names its key (`Hop.facts`), so a verdict can always be traced back to where the behaviour
is written down. When a controller changes, change the row and its source here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fact:
    key: str
    says: str
    source: str


FACTS: dict[str, Fact] = {f.key: f for f in (
    # --- Ingress controllers ---------------------------------------------------------------------
    Fact("gce-ingress-class",
         "GKE's Ingress controller serves an Ingress whose kubernetes.io/ingress.class annotation is gce "
         "(gce-internal, gce-regional-external), or one with neither that annotation nor spec.ingressClassName; "
         "an Ingress with spec.ingressClassName and no annotation is ignored, whatever the class name",
         "kubernetes/ingress-gce pkg/utils/utils.go IsGCEIngress"),
    Fact("gce-ingress-no-certmap",
         "GKE Ingress cannot use Certificate Manager certificate maps; only a GKE Gateway can "
         "(networking.gke.io/certmap). Ingress takes Secrets, pre-shared certificates or ManagedCertificates",
         "kubernetes/ingress-gce#1692"),
    Fact("gce-ingress-default-backend",
         "A GKE Ingress sends requests no rule matches to its spec.defaultBackend, else to "
         "kube-system/default-http-backend, which answers 404",
         "GKE docs, 'GKE Ingress for Application Load Balancers': default backend"),
    Fact("gce-ingress-allow-http",
         "kubernetes.io/ingress.allow-http: \"false\" removes the HTTP frontend of a GKE Ingress",
         "kubernetes/ingress-gce docs/annotations.md"),
    Fact("alb-ingress-class",
         "The AWS Load Balancer Controller serves Ingresses of class alb (spec.ingressClassName alb, the "
         "IngressClass its Helm chart creates, or the kubernetes.io/ingress.class: alb annotation)",
         "kubernetes-sigs/aws-load-balancer-controller docs/guide/ingress/ingress_class.md"),
    Fact("alb-scheme-internal",
         "alb.ingress.kubernetes.io/scheme defaults to internal: without internet-facing the ALB has only "
         "private addresses",
         "kubernetes-sigs/aws-load-balancer-controller docs/guide/ingress/annotations.md (scheme)"),
    Fact("alb-listen-ports",
         "Without alb.ingress.kubernetes.io/listen-ports the ALB listens on HTTP:80, or on HTTPS:443 when "
         "certificate-arn is set",
         "kubernetes-sigs/aws-load-balancer-controller pkg/ingress/model_build_listener.go computeIngressListenPorts"),
    Fact("alb-certificates",
         "An HTTPS listener serves the ACM certificates named by alb.ingress.kubernetes.io/certificate-arn; "
         "without it the controller discovers, for every rule and TLS host of the Ingress, the one ISSUED ACM "
         "certificate whose domain or SAN matches (a wildcard covers one label) and fails the whole Ingress "
         "with 'no certificate found for host' when a host has none",
         "kubernetes-sigs/aws-load-balancer-controller pkg/ingress/model_build_listener.go, "
         "pkg/ingress/cert_discovery.go (Discover, domainMatchesHost)"),
    Fact("alb-default-action",
         "An ALB listener answers requests no rule matches with a fixed 404, unless one Ingress of the group "
         "has spec.defaultBackend",
         "kubernetes-sigs/aws-load-balancer-controller pkg/ingress/model_build_listener.go buildListenerDefaultActions"),
    Fact("alb-ingress-group",
         "Ingresses with the same alb.ingress.kubernetes.io/group.name share one ALB: its rules and "
         "certificates are the union of theirs",
         "kubernetes-sigs/aws-load-balancer-controller docs/guide/ingress/annotations.md (group.name)"),
    Fact("alb-auth",
         "alb.ingress.kubernetes.io/auth-type cognito or oidc makes the ALB authenticate requests",
         "kubernetes-sigs/aws-load-balancer-controller docs/guide/ingress/annotations.md (authentication)"),
    Fact("nginx-default-backend",
         "NGINX answers hosts that no Ingress of its class names from its default backend (404)",
         "kubernetes/ingress-nginx docs/user-guide/default-backend.md"),
    Fact("nginx-fake-certificate",
         "Without a TLS secret for the requested host NGINX presents its self-signed 'Kubernetes Ingress "
         "Controller Fake Certificate'",
         "kubernetes/ingress-nginx docs/user-guide/tls.md (Default SSL Certificate)"),
    Fact("nginx-auth",
         "nginx.ingress.kubernetes.io/auth-url (external auth) or auth-type basic/digest makes NGINX "
         "authenticate requests",
         "kubernetes/ingress-nginx docs/user-guide/nginx-configuration/annotations.md (Authentication)"),
    Fact("ingress-host-wildcard",
         "An Ingress rule host *.foo.com matches exactly one label below foo.com",
         "Kubernetes docs, Concepts > Ingress > Hostname wildcards"),
    Fact("ingress-path-prefix",
         "pathType Prefix matches by path elements (/v1 matches /v1 and /v1/models, not /v1models); the "
         "longest matching path wins",
         "Kubernetes docs, Concepts > Ingress > Path types"),
    Fact("helm-ingress-class",
         "The ingress-nginx chart creates the IngressClass named by controller.ingressClassResource.name "
         "(default nginx); the aws-load-balancer-controller chart creates the one named by ingressClass "
         "(default alb)",
         "kubernetes/ingress-nginx charts/ingress-nginx/values.yaml; aws/eks-charts "
         "stable/aws-load-balancer-controller/values.yaml"),
    Fact("app-routing-nginx",
         "AKS's application routing operator runs one NGINX per NginxIngressController: it creates the "
         "IngressClass spec.ingressClassName and a LoadBalancer Service carrying spec.loadBalancerAnnotations "
         "(azure-pip-name binds a static public IP; azure-load-balancer-internal makes it private)",
         "Azure/aks-app-routing-operator api/v1alpha1/nginxingresscontroller_types.go, pkg/manifests/nginx.go; "
         "AKS docs 'Advanced NGINX ingress controller and ingress configurations with the application routing "
         "add-on'"),
    Fact("global-accelerator",
         "A Global Accelerator listener forwards the TCP ports of its portRanges to the endpoints of its endpoint "
         "groups (an ALB among them); it works at layer 4, so TLS, Host and SNI reach the ALB unchanged",
         "AWS Global Accelerator Developer Guide, 'Listeners' and 'Endpoint groups'"),
    # --- Gateway API ----------------------------------------------------------------------------
    Fact("gateway-attachment",
         "An HTTPRoute attaches to the Gateway its parentRefs name (kind Gateway and the route's namespace by "
         "default) when a listener allows routes from its namespace (allowedRoutes.namespaces.from defaults to "
         "Same) and their hostnames intersect; a wildcard hostname is a suffix match",
         "kubernetes-sigs/gateway-api apis/v1/shared_types.go (ParentReference, Hostname), "
         "apis/v1/gateway_types.go (AllowedRoutes)"),
    Fact("gateway-no-route",
         "A Gateway answers 404 to requests no attached HTTPRoute matches",
         "kubernetes-sigs/gateway-api apis/v1/httproute_types.go (HTTPRouteRule: 404 when no rule matches)"),
    Fact("gke-gateway-certmap",
         "A GKE Gateway's HTTPS listeners serve the Certificate Manager map named by its networking.gke.io/certmap "
         "annotation: the entry whose hostname matches the SNI, else the PRIMARY entry",
         "GKE docs, 'Secure a Gateway' (certificate maps); Certificate Manager docs, 'Certificate map entries'"),
    Fact("gke-gateway-classes",
         "gke-l7-global-external-managed and gke-l7-gxlb are global external Gateways (a global address); "
         "gke-l7-regional-external-managed is regional external; gke-l7-rilb and gke-l7-cross-regional-internal-"
         "managed-mc are internal",
         "GKE docs, 'GatewayClass capabilities'"),
    # --- certificates ---------------------------------------------------------------------------
    Fact("cert-manager-certificate",
         "cert-manager writes a Certificate's key pair into spec.secretName once its issuer (spec.issuerRef: an "
         "Issuer in the namespace or a ClusterIssuer) signs dnsNames",
         "cert-manager docs, 'Certificate resource'"),
    Fact("cert-manager-ingress-shim",
         "cert-manager creates a Certificate for each tls entry of an Ingress annotated "
         "cert-manager.io/cluster-issuer or cert-manager.io/issuer, with the entry's hosts and secretName",
         "cert-manager docs, 'Securing Ingress Resources' (usage/ingress)"),
    Fact("gke-managed-certificate",
         "A GKE Ingress serves the ManagedCertificates its networking.gke.io/managed-certificates annotation "
         "names (spec.domains, same namespace)",
         "GKE docs, 'Use Google-managed SSL certificates'"),
    # --- DNS -------------------------------------------------------------------------------------
    Fact("dns-authoritative-zone",
         "The most specific zone a name falls in answers for it; a name with no record there does not resolve "
         "(NXDOMAIN), whatever a parent zone holds",
         "RFC 1034 section 4.3.2 (authoritative data, name error)"),
    Fact("route53-health-check-host",
         "A Route 53 health check without ip_address resolves its fqdn through DNS and sends it as Host (and SNI "
         "with enable_sni); with ip_address it connects to that address and sends fqdn as Host",
         "Route 53 API Reference, HealthCheckConfig (FullyQualifiedDomainName, IPAddress, EnableSNI)"),
    Fact("route53-health-check-tls",
         "Route 53 HTTPS health checks do not validate the endpoint's certificate: a healthy check does not mean "
         "clients accept the certificate",
         "Route 53 Developer Guide, 'Values that you specify when you create or update health checks' (HTTPS)"),
    Fact("route53-alias-name",
         "A Route 53 record name without the zone's suffix is relative to the zone",
         "hashicorp/terraform-provider-aws internal/service/route53/record.go (expandRecordName)"),
    Fact("host-header",
         "Browsers and HTTP clients send the URL's host as Host header and TLS SNI all along a CNAME chain: every "
         "entry a global name answers with must route and certify the global name itself",
         "RFC 9110 section 7.2 (Host); RFC 6066 section 3 (server_name)"),
    Fact("backend-service",
         "An Ingress backend names a Service of the Ingress's namespace, an HTTPRoute backendRef one of its namespace "
         "(or backendRef.namespace), on the same cluster, by its port number or name",
         "Kubernetes API reference, networking/v1 IngressServiceBackend; kubernetes-sigs/gateway-api "
         "apis/v1/shared_types.go (BackendObjectReference)"),
    # --- workloads ------------------------------------------------------------------------------
    Fact("service-selector",
         "A Service's endpoints are the ready pods of its namespace whose labels include its selector, on the "
         "container port its targetPort names (a name must match a declared container port)",
         "Kubernetes docs, Concepts > Service (targetPort, selector)"),
    Fact("hpa-min-replicas",
         "A HorizontalPodAutoscaler keeps at least spec.minReplicas (default 1) of its target",
         "Kubernetes API reference, autoscaling/v2 HorizontalPodAutoscalerSpec"),
    Fact("vllm-api-key",
         "vLLM's OpenAI-compatible server requires 'Authorization: Bearer <key>' when started with --api-key or "
         "with the VLLM_API_KEY environment variable",
         "vllm-project/vllm vllm/entrypoints/openai/cli_args.py (--api-key), docs serving/openai_compatible_server.md"),
    # --- the workload's supply: image, model, autoscaler, cold start ----------------------------------
    Fact("ecr-pull-through-cache",
         "An image named <account>.dkr.ecr.<region>.amazonaws.com/<prefix>/<path> is pulled through the ECR "
         "pull-through cache rule whose ecrRepositoryPrefix is <prefix>; without such a rule the pull fails "
         "(the repository does not exist)",
         "AWS docs, Amazon ECR User Guide, 'Sync an upstream registry with an Amazon ECR private registry'"),
    Fact("artifact-registry-remote",
         "An image named <location>-docker.pkg.dev/<project>/<repository>/<path> of a remote repository is "
         "fetched from the repository's upstream on first pull and cached",
         "Google Cloud docs, Artifact Registry, 'Remote repositories overview'"),
    Fact("acr-cache-rule",
         "An image named <registry>.azurecr.io/<target repository> is pulled through the ACR cache rule whose "
         "targetRepository matches it (a trailing /* matches any path below)",
         "Azure docs, Azure Container Registry, 'Artifact cache'"),
    Fact("hf-hub-offline",
         "With HF_HUB_OFFLINE=1, huggingface_hub never downloads: a model id that is not a local path fails "
         "at start instead of fetching from the Hugging Face hub",
         "huggingface/huggingface_hub src/huggingface_hub/constants.py HF_HUB_OFFLINE"),
    Fact("engine-model-flag",
         "vLLM's OpenAI server loads the model named by --model (without it, its built-in default model from "
         "the hub); TGI's launcher loads --model-id (env MODEL_ID). A value that is not a local directory is a "
         "Hugging Face hub id",
         "vllm-project/vllm vllm/engine/arg_utils.py EngineArgs.model; huggingface/text-generation-inference "
         "launcher/src/main.rs Args.model_id"),
    Fact("engine-metrics",
         "vLLM exports vllm:num_requests_running, vllm:num_requests_waiting, vllm:request_success_total and "
         "http_requests_total on /metrics; TGI exports tgi_batch_current_size, tgi_queue_size, "
         "tgi_request_success, tgi_request_count and tgi_request_failure",
         "vllm-project/vllm vllm/v1/metrics/loggers.py, api_server.py mount_metrics; "
         "huggingface/text-generation-inference router/src/server.rs, backends/v3/src/queue.rs"),
    Fact("keda-prometheus",
         "A KEDA ScaledObject with a prometheus trigger makes KEDA's metrics server evaluate the trigger's query "
         "against serverAddress and serve the result to the HPA KEDA creates; it needs KEDA on the cluster and "
         "the TriggerAuthentication or ClusterTriggerAuthentication its authenticationRef names",
         "kedacore/keda pkg/scalers/prometheus_scaler.go; KEDA docs, Scalers > Prometheus"),
    Fact("hpa-custom-metrics",
         "An HPA's Pods, Object or External metric is read from the custom or external metrics API, which only "
         "an adapter (KEDA, prometheus-adapter, the Stackdriver adapter) serves; without one the HPA never scales",
         "Kubernetes docs, 'Horizontal Pod Autoscaling' > 'Support for metrics APIs'"),
    Fact("scrape-annotations",
         "The clusters' scrapers collect pods labelled aiinfra.io/metrics=true on the port and path of the "
         "prometheus.io/port and prometheus.io/path annotations (or a PodMonitoring/PodMonitor selecting them)",
         "this project's convention (components/metrics); Google Cloud docs, 'Managed Service for Prometheus' "
         "> PodMonitoring; Azure docs, 'Customize scraping of Prometheus metrics' (pod annotations)"),
    Fact("cold-start-budget",
         "The pod annotation aiinfra.io/cold-start-seconds is the computed worst-case time from a pod's creation "
         "to its first ready replica on a new GPU node: node provisioning, image pull, model copy, engine load",
         "this project's convention (components/serving/coldstart.py, components/catalog/coldstart.py)"),
    Fact("auth-declared-none",
         "The pod template annotation aiinfra.io/auth: none declares a deliberately open endpoint "
         "(this project's convention; the policy pack allows it outside prod)",
         "docs/policies.md (public-entry-authenticates)"),
)}


# --- tables the resolvers read ---------------------------------------------------------------------

INGRESS_CLASS_ANNOTATION = "kubernetes.io/ingress.class"

ALB_CLASSES = frozenset({"alb"})
GCE_CLASSES = {"gce": "external", "gce-internal": "internal", "gce-regional-external": "external"}
NGINX_CLASSES = frozenset({"nginx", "nginx-public", "public-nginx", "ingress-nginx", "external-nginx",
                           "webapprouting.kubernetes.azure.com"})

INGRESS_CLASS_CONTROLLERS = {
    "ingress.k8s.aws/alb": "alb",
    "k8s.io/ingress-nginx": "nginx",
    "approuting.kubernetes.azure.com": "nginx",
}
"""IngressClass spec.controller -> flavour, for classes created in the stack."""

ALB = {
    "scheme": "alb.ingress.kubernetes.io/scheme",
    "listen_ports": "alb.ingress.kubernetes.io/listen-ports",
    "certificate_arn": "alb.ingress.kubernetes.io/certificate-arn",
    "group": "alb.ingress.kubernetes.io/group.name",
    "ssl_redirect": "alb.ingress.kubernetes.io/ssl-redirect",
    "auth_type": "alb.ingress.kubernetes.io/auth-type",
}
ALB_AUTH_TYPES = frozenset({"cognito", "oidc"})

GCE = {
    "static_ip": "kubernetes.io/ingress.global-static-ip-name",
    "regional_static_ip": "kubernetes.io/ingress.regional-static-ip-name",
    "managed_certificates": "networking.gke.io/managed-certificates",
    "pre_shared_cert": "ingress.gcp.kubernetes.io/pre-shared-cert",
    "allow_http": "kubernetes.io/ingress.allow-http",
    "certmap": "networking.gke.io/certmap",
}

GKE_GATEWAY_CERTMAP = "networking.gke.io/certmap"
GATEWAY_CLASSES = {
    "gke-l7-global-external-managed": ("global", "external"),
    "gke-l7-gxlb": ("global", "external"),
    "gke-l7-regional-external-managed": ("regional", "external"),
    "gke-l7-rilb": ("regional", "internal"),
    "gke-l7-cross-regional-internal-managed-mc": ("global", "internal"),
}

NGINX_AUTH_ANNOTATIONS = ("nginx.ingress.kubernetes.io/auth-url", "nginx.ingress.kubernetes.io/auth-type")

CERT_MANAGER_ISSUER_ANNOTATIONS = {"cert-manager.io/cluster-issuer": "ClusterIssuer",
                                   "cert-manager.io/issuer": "Issuer"}

AZURE_PIP_ANNOTATIONS = ("service.beta.kubernetes.io/azure-pip-name",)
AZURE_INTERNAL_LB_ANNOTATION = "service.beta.kubernetes.io/azure-load-balancer-internal"

AUTH_OPT_OUT = ("aiinfra.io/auth", "none")
"""Pod template annotation (key, value) that declares an endpoint open on purpose."""
VLLM_API_KEY_ENV = "VLLM_API_KEY"
VLLM_API_KEY_ARG = "--api-key"
TGI_API_KEY_ENV = "API_KEY"
"""TGI's launcher reads --api-key from API_KEY (launcher/src/main.rs Args.api_key, `#[clap(long, env)]`)."""


@dataclass(frozen=True)
class EngineFacts:
    """What a model server image does, for the model and autoscaler hops."""

    name: str
    repository: str
    """The image path (registry and cache prefixes stripped), e.g. vllm/vllm-openai."""
    model_flags: tuple[str, ...]
    model_env: str | None
    api_key_env: str
    metrics: frozenset[str]
    """Metric names it exports (histograms also as _bucket, _sum, _count)."""
    metric_prefix: str | None
    """Every metric of its own carries this prefix (`vllm:`): a query on another name of that prefix is a
    metric of a newer or older release, reported unknown rather than broken."""


ENGINES: tuple[EngineFacts, ...] = (
    EngineFacts("vLLM", "vllm/vllm-openai", ("--model",), None, VLLM_API_KEY_ENV,
                frozenset({"vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:request_success_total",
                           "vllm:kv_cache_usage_perc", "vllm:prompt_tokens_total", "vllm:generation_tokens_total",
                           "vllm:e2e_request_latency_seconds", "vllm:time_to_first_token_seconds",
                           "http_requests_total", "http_request_duration_seconds"}), "vllm:"),
    EngineFacts("TGI", "huggingface/text-generation-inference", ("--model-id",), "MODEL_ID", TGI_API_KEY_ENV,
                frozenset({"tgi_batch_current_size", "tgi_queue_size", "tgi_request_success", "tgi_request_count",
                           "tgi_request_failure", "tgi_request_duration", "tgi_batch_current_max_tokens"}), "tgi_"),
)
"""Model servers the hops recognise by image path (engine-metrics, engine-model-flag)."""

HF_OFFLINE_ENV = ("HF_HUB_OFFLINE", "1")
EXPORTED_METRICS_ANNOTATION = "aiinfra.io/exported-metrics"
"""Pod template annotation: the comma-separated metrics a server of no recognised image exports (this
project writes it for every engine; a user's program may too)."""
SCRAPE_LABEL = ("aiinfra.io/metrics", "true")
SCRAPE_ANNOTATION = ("prometheus.io/scrape", "true")
COLD_START_ANNOTATION = "aiinfra.io/cold-start-seconds"
STORE_URL_PREFIXES = ("s3://", "gs://", "https://")
"""How a copy tool names an object store location (Azure blobs: https://<account>.blob.core.windows.net/)."""
BLOB_HOST_SUFFIX = ".blob.core.windows.net"
KEDA_CHARTS = frozenset({"keda"})
METRICS_ADAPTER_CHARTS = frozenset({"keda", "prometheus-adapter", "custom-metrics-stackdriver-adapter"})
