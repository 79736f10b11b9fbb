#!/usr/bin/env bash
# End-to-end check of a running lab cluster (lab/k8s/cluster up first): the smoke Deployment becomes Ready,
# kubectl logs / exec / top work, the automation identity is least-privilege, a rollout restart completes.
# Leaves the smoke Deployment deleted again. Exit 0 when every check passed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cluster="$here/cluster"
k() { "$cluster" kubectl "$@"; }
auto() { KUBECONFIG=$("$cluster" kubeconfig automation) "$cluster" kubectl "$@"; }
pass=0 fail=0
check() {  # check NAME COMMAND...
  local name=$1; shift
  if "$@" >/dev/null; then echo "ok   $name"; pass=$((pass + 1)); else echo "FAIL $name"; fail=$((fail + 1)); fi
}

k apply -f "$here/manifests/smoke-deploy.yaml" >/dev/null
check "smoke Deployment rolls out" k -n bruno rollout status deploy/smoke --timeout=90s
pods=$(k -n bruno get pods -l app=smoke -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}')
pod=$(head -n1 <<<"$pods")

# pod-sync creates the pod's Logs/Exec objects right after scheduling; give it a few seconds at most
for _ in $(seq 20); do
  k -n bruno get logs.kwok.x-k8s.io "$pod" >/dev/null 2>&1 && break
  sleep 0.5
done
marker="smoke-$(date +%s%N)"
echo "$marker" | "$cluster" pod-log bruno "$pod" >/dev/null
logs_ok() { k -n bruno logs "$pod" | grep -q "$marker"; }
check "kubectl logs serves the pod's log file" logs_ok
exec_ok() {
  [ "$(k -n bruno exec "$pod" -- python3 -c 'import os; print(os.environ["SMOKE_GREETING"], os.environ["POD_NAME"])')" = \
    "hello-from-smoke $pod" ]
}
check "kubectl exec runs python3 locally with the pod's env" exec_ok

top_ok() {
  local _ out
  for _ in $(seq 45); do  # metrics-server needs two scrapes (15 s apart) of a new pod
    out=$(k top pods -n bruno -l app=smoke --no-headers 2>/dev/null || true)
    if [ "$(grep -c ' 700Mi' <<<"$out")" -ge 2 ]; then echo "$out"; return 0; fi
    sleep 2
  done
  echo "$out"; return 1
}
check "kubectl top pods shows the annotated 700Mi" top_ok

check "automation: can-i delete namespaces is no" test "$(auto auth can-i delete namespaces 2>/dev/null || true)" = no
check "automation: get pods in bruno" auto -n bruno get pods -o name
check "automation: metrics.k8s.io in bruno" auto -n bruno get --raw /apis/metrics.k8s.io/v1beta1/namespaces/bruno/pods
check "automation: no secrets" test "$(auto -n bruno auth can-i list secrets 2>/dev/null || true)" = no
check "automation: logs" auto -n bruno logs "$pod" --tail=1
check "automation: exec" auto -n bruno exec "$pod" -- true

k -n bruno rollout restart deploy/smoke >/dev/null
check "rollout restart completes" k -n bruno rollout status deploy/smoke --timeout=90s
old_gone() {
  local _
  for _ in $(seq 30); do
    k -n bruno get pod "$pod" >/dev/null 2>&1 || return 0
    sleep 1
  done
  return 1
}
check "old pods are gone after the restart" old_gone

k delete -f "$here/manifests/smoke-deploy.yaml" --wait=true --timeout=60s >/dev/null
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
