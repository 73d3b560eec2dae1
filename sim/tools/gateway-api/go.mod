// Pins the Gateway API release whose CRD manifests sim installs. Nothing here
// is compiled: the build script reads config/crd/standard from the module.
module aksmlops.local/sim/tools/gateway-api

go 1.26.0

require sigs.k8s.io/gateway-api v1.6.3
