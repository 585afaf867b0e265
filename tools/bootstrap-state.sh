#!/usr/bin/env bash
# Creates the Pulumi state backend of an organisation, once, before any stack exists:
#   - a GCS bucket for the state: versioned, uniform bucket-level access, public access
#     prevention enforced;
#   - a KMS key ring "pulumi" with one key per stage (dev, staging, prod), the secrets
#     provider of each stack, rotated every 90 days.
# Idempotent: everything is looked up first and only what is missing is created, so it is
# safe to run again. --dry-run prints the commands for a new organisation and runs nothing.
# Walk-through: docs/getting-started.md.
set -euo pipefail

readonly KEYRING="pulumi"
readonly STAGES=(dev staging prod)
readonly ROTATION_PERIOD="90d"

usage() {
  cat <<'EOF'
Usage: tools/bootstrap-state.sh [--dry-run] <state-bucket> <region> <project>

  <state-bucket>  name of the new state bucket, e.g. guincho-lacerda-pulumi-state
  <region>        where the bucket and the key ring live, e.g. southamerica-east1
  <project>       the Google Cloud project that holds them (not a stage's project)
  --dry-run       print the gcloud commands for a new organisation; run nothing

Then: pulumi login gs://<state-bucket>
EOF
}

fail() {
  echo "bootstrap-state: $*" >&2
  exit 2
}

dry_run=false
args=()
for arg in "$@"; do
  case "$arg" in
    --dry-run) dry_run=true ;;
    -h | --help)
      usage
      exit 0
      ;;
    -*) fail "unknown option \"$arg\"; expected --dry-run or --help" ;;
    *) args+=("$arg") ;;
  esac
done
if [[ ${#args[@]} -ne 3 ]]; then
  usage >&2
  fail "expected 3 arguments (state bucket, region, project), received ${#args[@]}"
fi
bucket="${args[0]}"
region="${args[1]}"
project="${args[2]}"

if [[ ! "$bucket" =~ ^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$ ]]; then
  fail "state bucket: received \"$bucket\"; expected 3-63 lower-case letters, digits, - or _ (no gs://)"
fi
if [[ ! "$region" =~ ^[a-z]+-[a-z]+[0-9]+$ ]]; then
  fail "region: received \"$region\"; expected a Google Cloud region such as southamerica-east1"
fi
if [[ ! "$project" =~ ^[a-z][a-z0-9-]{4,28}[a-z0-9]$ ]]; then
  fail "project: received \"$project\"; expected a project id: 6-30 lower-case letters, digits or -"
fi

# Runs a command, or only prints it with --dry-run (shell-quoted, one per line).
run() {
  local line
  line=$(printf ' %q' "$@")
  if [[ "$dry_run" == true ]]; then
    echo "${line:1}"
  else
    echo "+${line}" >&2
    "$@"
  fi
}

# True when the thing a read-only gcloud command describes exists (never in --dry-run).
exists() {
  [[ "$dry_run" == false ]] && "$@" >/dev/null 2>&1
}

# The first rotation of a new key, 90 days from today (KMS needs a start with a period).
next_rotation="$(date -u -d "+90 days" +%Y-%m-%dT00:00:00Z)"

run gcloud services enable storage.googleapis.com cloudkms.googleapis.com --project="$project"

bucket_is_new=true
if exists gcloud storage buckets describe "gs://$bucket" --project="$project"; then
  echo "bucket gs://$bucket exists: not created" >&2
  bucket_is_new=false
else
  run gcloud storage buckets create "gs://$bucket" --project="$project" --location="$region" \
    --uniform-bucket-level-access --public-access-prevention
fi
versioning=""
if [[ "$bucket_is_new" == false ]]; then
  versioning="$(gcloud storage buckets describe "gs://$bucket" --project="$project" \
    --format="value(versioning_enabled)")"
fi
if [[ "$versioning" == "True" ]]; then
  echo "bucket gs://$bucket is versioned already" >&2
else
  run gcloud storage buckets update "gs://$bucket" --project="$project" --versioning
fi

if exists gcloud kms keyrings describe "$KEYRING" --location="$region" --project="$project"; then
  echo "key ring $KEYRING exists: not created" >&2
else
  run gcloud kms keyrings create "$KEYRING" --location="$region" --project="$project"
fi
for stage in "${STAGES[@]}"; do
  if exists gcloud kms keys describe "$stage" --keyring="$KEYRING" --location="$region" \
    --project="$project"; then
    echo "key $KEYRING/$stage exists: not created" >&2
  else
    run gcloud kms keys create "$stage" --keyring="$KEYRING" --location="$region" \
      --project="$project" --purpose=encryption --rotation-period="$ROTATION_PERIOD" \
      --next-rotation-time="$next_rotation"
  fi
done

cat >&2 <<EOF

Done. Next:
  pulumi login gs://$bucket
  pulumi stack init dev --secrets-provider gcpkms://projects/$project/locations/$region/keyRings/$KEYRING/cryptoKeys/dev
EOF
