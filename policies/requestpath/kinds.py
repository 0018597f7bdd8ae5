"""Type tokens the resolvers read, by concern (cloud and Kubernetes types, never our components)."""

from __future__ import annotations

# --- DNS --------------------------------------------------------------------------------------------
ROUTE53_ZONE = "aws:route53/zone:Zone"
ROUTE53_RECORD = "aws:route53/record:Record"
ROUTE53_HEALTH_CHECK = "aws:route53/healthCheck:HealthCheck"
CLOUD_DNS_ZONE = "gcp:dns/managedZone:ManagedZone"
CLOUD_DNS_RECORD = "gcp:dns/recordSet:RecordSet"
AZURE_DNS_ZONES = ("azure-native:dns:Zone", "azure-native:network:Zone")
AZURE_DNS_RECORDS = ("azure-native:dns:RecordSet", "azure-native:network:RecordSet")
TRAFFIC_MANAGER_PROFILES = ("azure-native:trafficmanager:Profile", "azure-native:network:Profile")
TRAFFIC_MANAGER_ENDPOINTS = ("azure-native:trafficmanager:Endpoint", "azure-native:network:Endpoint")

# --- addresses and certificates -------------------------------------------------------------------
GCP_GLOBAL_ADDRESS = "gcp:compute/globalAddress:GlobalAddress"
GCP_ADDRESS = "gcp:compute/address:Address"
AZURE_PUBLIC_IP = "azure-native:network:PublicIPAddress"
GLOBAL_ACCELERATOR = "aws:globalaccelerator/accelerator:Accelerator"
GLOBAL_ACCELERATOR_LISTENER = "aws:globalaccelerator/listener:Listener"
GLOBAL_ACCELERATOR_ENDPOINTS = "aws:globalaccelerator/endpointGroup:EndpointGroup"
ACM_CERTIFICATE = "aws:acm/certificate:Certificate"
ACM_VALIDATION = "aws:acm/certificateValidation:CertificateValidation"
GCP_CERT_MAP = "gcp:certificatemanager/certificateMap:CertificateMap"
GCP_CERT_MAP_ENTRY = "gcp:certificatemanager/certificateMapEntry:CertificateMapEntry"
GCP_CERTIFICATE = "gcp:certificatemanager/certificate:Certificate"
GCP_MANAGED_SSL = "gcp:compute/managedSslCertificate:ManagedSslCertificate"
GCP_SSL = "gcp:compute/sSLCertificate:SSLCertificate"

# --- Kubernetes ---------------------------------------------------------------------------------------
INGRESS = ("kubernetes:networking.k8s.io/v1:Ingress", "kubernetes:networking.k8s.io/v1beta1:Ingress",
           "kubernetes:extensions/v1beta1:Ingress")
INGRESS_CLASS = ("kubernetes:networking.k8s.io/v1:IngressClass",)
GATEWAY = ("kubernetes:gateway.networking.k8s.io/v1:Gateway", "kubernetes:gateway.networking.k8s.io/v1beta1:Gateway")
HTTP_ROUTE = ("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute",
              "kubernetes:gateway.networking.k8s.io/v1beta1:HTTPRoute")
SERVICE = ("kubernetes:core/v1:Service",)
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
REPLICA_SET = "kubernetes:apps/v1:ReplicaSet"
POD = "kubernetes:core/v1:Pod"
INFERENCE_SERVICE = "kubernetes:serving.kserve.io/v1beta1:InferenceService"
HPA = ("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "kubernetes:autoscaling/v1:HorizontalPodAutoscaler",
       "kubernetes:autoscaling/v2beta2:HorizontalPodAutoscaler")
HELM_RELEASE = ("kubernetes:helm.sh/v3:Release",)
APP_ROUTING_NGINX = ("kubernetes:approuting.kubernetes.azure.com/v1alpha1:NginxIngressController",)
CERT_MANAGER_CERTIFICATE = ("kubernetes:cert-manager.io/v1:Certificate",)
CERT_MANAGER_ISSUER = ("kubernetes:cert-manager.io/v1:Issuer",)
CERT_MANAGER_CLUSTER_ISSUER = ("kubernetes:cert-manager.io/v1:ClusterIssuer",)
MANAGED_CERTIFICATE = ("kubernetes:networking.gke.io/v1:ManagedCertificate",
                       "kubernetes:networking.gke.io/v1beta2:ManagedCertificate")

# --- the workload's supply ---------------------------------------------------------------------------
SCALED_OBJECT = ("kubernetes:keda.sh/v1alpha1:ScaledObject",)
TRIGGER_AUTHENTICATION = ("kubernetes:keda.sh/v1alpha1:TriggerAuthentication",)
CLUSTER_TRIGGER_AUTHENTICATION = ("kubernetes:keda.sh/v1alpha1:ClusterTriggerAuthentication",)
POD_MONITORING = ("kubernetes:monitoring.googleapis.com/v1:PodMonitoring",
                  "kubernetes:monitoring.coreos.com/v1:PodMonitor", "kubernetes:azmonitoring.coreos.com/v1:PodMonitor")
CONFIG_MAP = ("kubernetes:core/v1:ConfigMap",)
NETWORK_POLICY = ("kubernetes:networking.k8s.io/v1:NetworkPolicy",)
AMP_SCRAPER = "aws:amp/scraper:Scraper"
AZURE_DATA_COLLECTION_RULE = ("azure-native:insights:DataCollectionRule", "azure-native:monitor:DataCollectionRule")
ECR_PULL_THROUGH = "aws:ecr/pullThroughCacheRule:PullThroughCacheRule"
ARTIFACT_REGISTRY_REPOSITORY = "gcp:artifactregistry/repository:Repository"
ACR_CACHE_RULE = ("azure-native:containerregistry:CacheRule",)
EKS_CLUSTER = "aws:eks/cluster:Cluster"
GKE_CLUSTER = "gcp:container/cluster:Cluster"
AKS_CLUSTER = ("azure-native:containerservice:ManagedCluster",)
