/**
 * The parts of @pulumi/gcp this program uses, imported one service at a time.
 *
 * NOTE: `import * as gcp from "@pulumi/gcp"` loads the index of every one of the package's
 * ~150 services (about 70 ms of the offline plan's 1.2 s); these sub-module imports load
 * only what the components use. Components write `import * as gcp from "./gcp"` and keep
 * reading `gcp.compute.Instance`; a service not listed here is a compile error, so add it.
 */
export * as certificatemanager from "@pulumi/gcp/certificatemanager";
export * as compute from "@pulumi/gcp/compute";
export * as dns from "@pulumi/gcp/dns";
export * as iam from "@pulumi/gcp/iam";
export * as logging from "@pulumi/gcp/logging";
export * as monitoring from "@pulumi/gcp/monitoring";
export * as osconfig from "@pulumi/gcp/osconfig";
export * as projects from "@pulumi/gcp/projects";
export * as secretmanager from "@pulumi/gcp/secretmanager";
export * as serviceaccount from "@pulumi/gcp/serviceaccount";
export * as serviceusage from "@pulumi/gcp/serviceusage";
export * as storage from "@pulumi/gcp/storage";
export { Provider } from "@pulumi/gcp/provider";
export type * as types from "@pulumi/gcp/types";
