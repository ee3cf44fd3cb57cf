#!/usr/bin/env python3
"""Deterministic generator of realistic GitOps manifests for benchmarking manifix.

Standard library only. Two subcommands:

  gen.py monorepo OUT --files N [--match-ratio R] [--seed S] [--list-matches FILE]
      One monorepo, apps/<team>/<app>/{base,overlays/{dev,staging,production}} plus a few
      self-contained platform/ manifests, exactly N YAML files. round(N*R) of them (at least
      one when R > 0) hold something manifix should find: the placeholder account 123456789012
      in an ECR host or an ARN (IRSA annotation, ACM certificate, SQS/SNS ARNs, inline kustomize
      patches), or a moving tag (`latest`, `main-latest`) where manifix judges it. Every other
      file uses the real-looking account 465002806239 and immutable tags (`main-<40 hex>`,
      `v1.2.3`), and never contains the strings `latest` or `123456789012`, so that
      `rg -c '123456789012|latest'` counts exactly the planted problems.

  gen.py repos OUT --count N [--seed S]
      N small git repositories (one kustomize app each: base + 2-3 overlays, 8-15 files), every
      one with placeholder accounts and mutable tags to fix, and OUT/repos.txt listing their
      directories (relative to OUT), one per line.

The same seed always gives byte-identical files (and, for repos, identical commit ids: author
and committer dates are fixed). Nothing here reads the clock or the environment.

Notes on what the files deliberately avoid, because manifix would treat them specially and the
benchmark would then measure less work than it claims:
  * no `{{ }}` (Argo parameters, Helm templates): manifix skips such files unread;
  * no bare image names: a base image without registry is judged as a missing override;
  * every workload's serviceAccountName is defined in the same app, so IRSA checks stay quiet.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

REAL = "465002806239"
PLACEHOLDER = "123456789012"
REGION = "ap-southeast-2"
ENVS = ("dev", "staging", "production")

TEAMS = (
    "payments", "search", "ml-platform", "checkout", "identity", "growth", "data-eng",
    "fraud", "catalog", "notifications", "logistics", "pricing", "recommendations",
    "observability", "billing", "ads", "content", "inventory", "messaging", "risk",
    "support", "analytics", "mobile-bff", "partner-api",
)
APP_HEADS = (
    "order", "ledger", "invoice", "cart", "session", "profile", "feed", "ranking", "quote",
    "refund", "shipment", "stock", "price", "promo", "review", "media", "thumbnail", "export",
    "import", "audit", "consent", "token", "webhook", "report", "forecast", "embedding",
    "feature", "label", "geo", "tax", "fx", "loyalty", "wishlist", "coupon", "email", "sms",
    "push", "chat", "ticket", "kyc",
)
APP_TAILS = (
    "api", "worker", "service", "gateway", "consumer", "scheduler", "indexer", "sync",
    "processor", "router", "store", "engine", "bridge", "aggregator", "notifier",
)
JOBS = ("compact", "reindex", "backfill", "cleanup", "rollup", "snapshot", "reconcile", "export")
STEPS = ("extract", "validate", "transform", "train", "evaluate", "publish")
PLATFORM = (
    "external-dns", "cluster-autoscaler", "aws-load-balancer-controller", "karpenter",
    "external-secrets", "fluent-bit", "cert-manager", "velero", "keda", "reloader",
)
LOG_LEVELS = ("info", "warn", "debug")
MUTABLE = ("latest", "main-latest")


# --------------------------------------------------------------------------------------------
# Small helpers. Every random choice goes through a Random seeded from (seed, file path), so a
# file's content does not depend on the order files are rendered in.


def registry(account: str) -> str:
    return f"{account}.dkr.ecr.{REGION}.amazonaws.com"


def sha40(rng: random.Random) -> str:
    return f"{rng.getrandbits(160):040x}"


def uuid4ish(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def immutable_tag(rng: random.Random) -> str:
    # Mostly the branch+SHA tags CI pushes, some semver releases; never a bare branch name.
    r = rng.random()
    if r < 0.75:
        return f"main-{sha40(rng)}"
    if r < 0.9:
        return f"v{rng.randint(0, 4)}.{rng.randint(0, 30)}.{rng.randint(0, 20)}"
    return f"release-{rng.randint(2023, 2025)}.{rng.randint(1, 12):02d}-{sha40(rng)[:12]}"


def q(rng: random.Random, value: str) -> str:
    """A scalar written plain, "double" or 'single' quoted, as people do in real repositories.
    Only used for values that are valid plain scalars."""
    r = rng.random()
    if r < 0.55:
        return value
    if r < 0.85:
        return f'"{value}"'
    return f"'{value}'"


class App:
    """What every file of one app agrees on: names, namespace, images, service account."""

    def __init__(self, team: str, name: str, rng: random.Random):
        self.team = team
        self.name = name
        self.ns = team
        self.sa = f"{name}-sa" if rng.random() < 0.5 else name
        self.repo = f"{team}/{name}"
        self.port = rng.choice((8080, 8000, 3000, 9000))
        self.job = rng.choice(JOBS)
        self.sidecar = rng.random() < 0.3
        self.ingress = rng.random() < 0.4
        self.cronjob = rng.random() < 0.35
        self.workflow = rng.random() < 0.2
        self.configmap = rng.random() < 0.85
        self.service = rng.random() < 0.9
        self.envs = ENVS if rng.random() < 0.7 else ENVS[1:]
        # Per-overlay: does it carry a config-patch.yaml next to its kustomization?
        self.config_patch = {env: rng.random() < 0.5 for env in self.envs}

    def ns_for(self, env: str | None) -> str:
        return self.ns if env in (None, "production") else f"{self.ns}-{env}"

    def files(self) -> list[tuple[str, str]]:
        """(relative path, kind) of every file of the app, base first."""
        out = [("base/kustomization.yaml", "base-kustomization"),
               ("base/serviceaccount.yaml", "serviceaccount"),
               ("base/deployment.yaml", "deployment")]
        if self.service:
            out.append(("base/service.yaml", "service"))
        if self.configmap:
            out.append(("base/configmap.yaml", "configmap"))
        if self.cronjob:
            out.append(("base/cronjob.yaml", "cronjob"))
        if self.workflow:
            out.append(("base/workflowtemplate.yaml", "workflowtemplate"))
        for env in self.envs:
            out.append((f"overlays/{env}/kustomization.yaml", f"overlay:{env}"))
            if self.config_patch[env]:
                out.append((f"overlays/{env}/config-patch.yaml", f"config-patch:{env}"))
        return out

    def shrink_to(self, budget: int) -> None:
        """Drop optional parts until the app has at most `budget` files (minimum 4)."""
        for env in reversed(self.envs):
            if len(self.files()) <= budget:
                return
            self.config_patch[env] = False
        for attr in ("workflow", "cronjob", "configmap", "service"):
            if len(self.files()) <= budget:
                return
            setattr(self, attr, False)
        while len(self.files()) > budget and len(self.envs) > 1:
            self.envs = self.envs[1:]


# --------------------------------------------------------------------------------------------
# Renderers: one per kind of file. `bad` is None for a clean file, otherwise the name of the
# problem to plant. Each renderer declares which problems it can carry (VARIANTS).


def r_base_kustomization(app: App, rng: random.Random, bad: str | None) -> str:
    res = ["serviceaccount.yaml", "deployment.yaml"]
    if app.service:
        res.append("service.yaml")
    if app.configmap:
        res.append("configmap.yaml")
    if app.cronjob:
        res.append("cronjob.yaml")
    if app.workflow:
        res.append("workflowtemplate.yaml")
    lines = [
        "apiVersion: kustomize.config.k8s.io/v1beta1",
        "kind: Kustomization",
        "",
        f"namespace: {app.ns}",
        "",
        "labels:",
        "  - pairs:",
        f"      app.kubernetes.io/part-of: {app.team}",
        f"      team: {q(rng, app.team)}",
        "    includeSelectors: false",
        "",
        "resources:",
    ]
    lines += [f"  - {r}" for r in res]
    if bad == "patch-irsa-placeholder" or rng.random() < 0.3:
        acct = PLACEHOLDER if bad else REAL
        lines += [
            "",
            "patches:",
            "  # Default IRSA role; overlays replace it per environment",
            "  - target:",
            "      kind: ServiceAccount",
            f"      name: {app.sa}",
            "    patch: |-",
            "      - op: add",
            "        path: /metadata/annotations/eks.amazonaws.com~1role-arn",
            f"        value: {q(rng, f'arn:aws:iam::{acct}:role/{app.team}-{app.name}')}",
        ]
    return "\n".join(lines) + "\n"


def r_serviceaccount(app: App, rng: random.Random, bad: str | None) -> str:
    acct = PLACEHOLDER if bad else REAL
    arn = f"arn:aws:iam::{acct}:role/{app.team}-{app.name}"
    return f"""apiVersion: v1
kind: ServiceAccount
metadata:
  name: {app.sa}
  namespace: {app.ns}
  labels:
    app.kubernetes.io/name: {app.name}
  annotations:
    # IRSA: the role the application's own AWS SDK calls use (S3, SQS); image pulls use the node role
    eks.amazonaws.com/role-arn: {q(rng, arn)}
    eks.amazonaws.com/sts-regional-endpoints: "true"
"""


def container_env(app: App, rng: random.Random, acct: str) -> str:
    env = [
        ("AWS_REGION", REGION),
        ("LOG_LEVEL", rng.choice(LOG_LEVELS)),
        ("EVENTS_QUEUE_ARN", f"arn:aws:sqs:{REGION}:{acct}:{app.team}-{app.name}-events"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel-collector.observability:4317"),
        ("GOMAXPROCS", '"2"'),
    ]
    if rng.random() < 0.5:
        env.append(("FEATURE_FLAGS", f'"{app.name}-v2,fast-path"'))
    if rng.random() < 0.4:
        env.append(("BUCKET", f"{app.team}-{app.name}-{rng.choice(('assets', 'exports', 'models'))}"))
    out = []
    for k, v in env:
        val = v if v.startswith('"') else q(rng, v)
        out.append(f"            - name: {k}\n              value: {val}")
    return "\n".join(out)


def r_deployment(app: App, rng: random.Random, bad: str | None) -> str:
    main_acct = PLACEHOLDER if bad == "image-placeholder" else REAL
    env_acct = PLACEHOLDER if bad == "env-arn-placeholder" else REAL
    image = f"{registry(main_acct)}/{app.repo}:{immutable_tag(rng)}"
    sidecar = ""
    if app.sidecar or bad == "sidecar-mutable":
        tag = rng.choice(MUTABLE) if bad == "sidecar-mutable" else immutable_tag(rng)
        sidecar = f"""
        - name: log-router
          image: {q(rng, f"{registry(REAL)}/platform/log-router:{tag}")}
          resources:
            requests:
              cpu: 50m
              memory: 64Mi"""
    replicas = rng.choice((1, 2, 3))
    return f"""# {app.name}: owned by team {app.team}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {app.name}
  namespace: {app.ns}
  labels:
    app.kubernetes.io/name: {app.name}
    app.kubernetes.io/component: {rng.choice(("api", "worker", "backend"))}
  annotations:
    reloader.stakater.com/auto: "true"
spec:
  replicas: {replicas}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      app.kubernetes.io/name: {app.name}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 0
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {app.name}
      annotations:
        prometheus.io/scrape: "true"
        prometheus.io/port: "9090"
    spec:
      serviceAccountName: {app.sa}
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: topology.kubernetes.io/zone
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              app.kubernetes.io/name: {app.name}
      containers:
        - name: {app.name}
          image: {q(rng, image)}  # overlays pin the tag per environment
          imagePullPolicy: IfNotPresent
          args: ["--port={app.port}", "--metrics-port=9090"]
          ports:
            - name: http
              containerPort: {app.port}
            - name: metrics
              containerPort: 9090
          env:
{container_env(app, rng, env_acct)}
          envFrom:
            - configMapRef:
                name: {app.name}-config
          readinessProbe:
            httpGet:
              path: /healthz
              port: http
            initialDelaySeconds: 5
            periodSeconds: 10
          livenessProbe:
            httpGet:
              path: /livez
              port: http
            failureThreshold: 6
          resources:
            requests:
              cpu: {rng.choice(("100m", "250m", "500m"))}
              memory: {rng.choice(("256Mi", "512Mi", "1Gi"))}
            limits:
              memory: {rng.choice(("512Mi", "1Gi", "2Gi"))}{sidecar}
"""


def r_service(app: App, rng: random.Random, bad: str | None) -> str:
    acct = PLACEHOLDER if bad else REAL
    cert = f"arn:aws:acm:{REGION}:{acct}:certificate/{uuid4ish(rng)}"
    if not app.ingress:
        # A public NLB terminating TLS: the certificate ARN sits on the Service itself.
        annotations = ""
        svc_type = "ClusterIP"
        if bad or rng.random() < 0.3:
            svc_type = "LoadBalancer"
            annotations = f"""
  annotations:
    service.beta.kubernetes.io/aws-load-balancer-type: external
    service.beta.kubernetes.io/aws-load-balancer-scheme: internet-facing
    service.beta.kubernetes.io/aws-load-balancer-ssl-cert: {q(rng, cert)}
    service.beta.kubernetes.io/aws-load-balancer-ssl-ports: "443\""""
        return f"""apiVersion: v1
kind: Service
metadata:
  name: {app.name}
  namespace: {app.ns}{annotations}
spec:
  type: {svc_type}
  selector:
    app.kubernetes.io/name: {app.name}
  ports:
    - name: http
      port: {443 if svc_type == "LoadBalancer" else 80}
      targetPort: http
"""
    # Two documents: the Service and the ALB Ingress in front of it.
    host = f"{app.name}.{app.team}.example.com"
    return f"""---
apiVersion: v1
kind: Service
metadata:
  name: {app.name}
  namespace: {app.ns}
spec:
  type: ClusterIP
  selector:
    app.kubernetes.io/name: {app.name}
  ports:
    - name: http
      port: 80
      targetPort: http
---
# Public entry point through the AWS Load Balancer Controller
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {app.name}
  namespace: {app.ns}
  annotations:
    alb.ingress.kubernetes.io/scheme: internet-facing
    alb.ingress.kubernetes.io/target-type: ip
    alb.ingress.kubernetes.io/listen-ports: '[{{"HTTPS": 443}}]'
    alb.ingress.kubernetes.io/certificate-arn: {q(rng, cert)}
    alb.ingress.kubernetes.io/group.name: {app.team}
spec:
  ingressClassName: alb
  rules:
    - host: {host}
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: {app.name}
                port:
                  name: http
"""


def r_configmap(app: App, rng: random.Random, bad: str | None) -> str:
    arn_acct = PLACEHOLDER if bad == "arn-placeholder" else REAL
    ecr_acct = PLACEHOLDER if bad == "ecr-placeholder" else REAL
    doc = f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: {app.name}-config
  namespace: {app.ns}
data:
  LISTEN_ADDR: ":{app.port}"
  DB_POOL_SIZE: "{rng.choice((5, 10, 20))}"
  CACHE_TTL: {rng.choice(("30s", "5m", "1h"))}
  DLQ_ARN: {q(rng, f"arn:aws:sqs:{REGION}:{arn_acct}:{app.team}-{app.name}-dlq")}
  # Image the job runner starts for one-off tasks
  TASK_IMAGE: {q(rng, f"{registry(ecr_acct)}/{app.repo}-task:{immutable_tag(rng)}")}
  settings.yaml: |
    server:
      port: {app.port}
      shutdownGrace: 20s
    tracing:
      sampleRate: 0.{rng.randint(1, 9)}
"""
    if rng.random() < 0.4:
        # A second document in the same file, as many repositories do.
        doc += f"""---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {app.name}-logging
  namespace: {app.ns}
data:
  fluent-bit.conf: |
    [OUTPUT]
        Name cloudwatch_logs
        Match *
        region {REGION}
        log_group_name /eks/{app.team}/{app.name}
"""
    return doc


def r_cronjob(app: App, rng: random.Random, bad: str | None) -> str:
    acct = PLACEHOLDER if bad == "image-placeholder" else REAL
    tag = rng.choice(MUTABLE) if bad == "tag-mutable" else immutable_tag(rng)
    image = f"{registry(acct)}/{app.repo}-{app.job}:{tag}"
    return f"""apiVersion: batch/v1
kind: CronJob
metadata:
  name: {app.name}-{app.job}
  namespace: {app.ns}
spec:
  schedule: "{rng.randint(0, 59)} {rng.randint(0, 23)} * * *"
  concurrencyPolicy: Forbid
  successfulJobsHistoryLimit: 3
  jobTemplate:
    spec:
      backoffLimit: 2
      activeDeadlineSeconds: 3600
      template:
        metadata:
          labels:
            app.kubernetes.io/name: {app.name}-{app.job}
        spec:
          serviceAccountName: {app.sa}
          restartPolicy: OnFailure
          containers:
            - name: {app.job}
              image: {q(rng, image)}
              command: ["/app/{app.job}", "--batch-size=500"]
              resources:
                requests:
                  cpu: 200m
                  memory: 256Mi
"""


def r_workflowtemplate(app: App, rng: random.Random, bad: str | None) -> str:
    steps = rng.sample(STEPS, rng.randint(2, 4))
    bad_step = rng.randrange(len(steps)) if bad else -1
    step_lines = "\n".join(
        f"        - - name: {s}\n            template: {s}" for s in steps
    )
    templates = []
    for i, s in enumerate(steps):
        acct = PLACEHOLDER if i == bad_step and bad == "image-placeholder" else REAL
        tag = rng.choice(MUTABLE) if i == bad_step and bad == "tag-mutable" else immutable_tag(rng)
        templates.append(f"""
    - name: {s}
      container:
        image: {q(rng, f"{registry(acct)}/{app.repo}-{s}:{tag}")}
        command: ["python", "-m", "pipeline.{s}"]
        env:
          - name: STAGE
            value: {s}
        resources:
          requests:
            cpu: "{rng.choice((1, 2))}"
            memory: {rng.choice(("1Gi", "2Gi", "4Gi"))}""")
    return f"""apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: {app.name}-pipeline
  namespace: {app.ns}
  labels:
    app.kubernetes.io/name: {app.name}-pipeline
spec:
  entrypoint: main
  serviceAccountName: {app.sa}
  ttlStrategy:
    secondsAfterCompletion: 86400
  templates:
    - name: main
      steps:
{step_lines}
{"".join(templates)}
"""


def r_overlay(app: App, env: str, rng: random.Random, bad: str | None) -> str:
    reg = registry(REAL)
    name_acct = PLACEHOLDER if bad == "newname-placeholder" else REAL
    tag = rng.choice(MUTABLE) if bad == "newtag-mutable" else immutable_tag(rng)
    irsa_acct = PLACEHOLDER if bad == "patch-irsa-placeholder" else REAL
    lines = [
        "apiVersion: kustomize.config.k8s.io/v1beta1",
        "kind: Kustomization",
        "",
        f"namespace: {app.ns_for(env)}",
        "",
        "resources:",
        "  - ../../base",
        "",
        "labels:",
        "  - pairs:",
        f"      environment: {env}",
        "",
        f"# {env}: pin images to the build CI pushed for the commit",
        "images:",
        f"  - name: {reg}/{app.repo}",
        f"    newName: {q(rng, f'{registry(name_acct)}/{app.repo}')}",
        f"    newTag: {q(rng, tag)}",
        "",
        "patches:",
    ]
    if app.config_patch.get(env):
        lines.append("  - path: config-patch.yaml")
    # Strategic-merge patch as a block scalar: replicas and resources per environment.
    replicas = {"dev": 1, "staging": 2, "production": rng.choice((3, 4, 6))}[env]
    smp_image = ""
    if bad == "smp-image-placeholder":
        smp_image = (
            "\n              - name: debug-agent"
            f"\n                image: {registry(PLACEHOLDER)}/platform/debug-agent:v1.4.2"
        )
    lines += [
        f"  # Scale {app.name} for {env}",
        "  - target:",
        "      kind: Deployment",
        f"      name: {app.name}",
        "    patch: |-",
        "      apiVersion: apps/v1",
        "      kind: Deployment",
        "      metadata:",
        f"        name: {app.name}",
        "      spec:",
        f"        replicas: {replicas}",
        "        template:",
        "          spec:",
        "            containers:",
        f"              - name: {app.name}",
        "                resources:",
        "                  requests:",
        f"                    cpu: {rng.choice(('250m', '500m', '1'))}" + smp_image,
    ]
    if env != "dev" or bad == "patch-irsa-placeholder":
        lines += [
            f"  # {env} IRSA role",
            "  - target:",
            "      kind: ServiceAccount",
            f"      name: {app.sa}",
            "    patch: |",
            "      - op: replace",
            "        path: /metadata/annotations/eks.amazonaws.com~1role-arn",
            f"        value: {q(rng, f'arn:aws:iam::{irsa_acct}:role/{app.team}-{app.name}-{env}')}",
        ]
    return "\n".join(lines) + "\n"


def r_config_patch(app: App, env: str, rng: random.Random, bad: str | None) -> str:
    acct = PLACEHOLDER if bad else REAL
    return f"""# {env} settings for {app.name}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {app.name}-config
data:
  LOG_LEVEL: {"debug" if env == "dev" else "info"}
  EVENTS_TOPIC_ARN: {q(rng, f"arn:aws:sns:{REGION}:{acct}:{app.team}-{app.name}-{env}")}
  UPSTREAM_TIMEOUT: "{rng.choice((2, 5, 10))}s"
"""


def r_platform(name: str, rng: random.Random, bad: str | None) -> str:
    """A self-contained cluster add-on: ServiceAccount with IRSA and the Deployment using it."""
    irsa_acct = PLACEHOLDER if bad == "irsa-placeholder" else REAL
    img_acct = PLACEHOLDER if bad == "image-placeholder" else REAL
    tag = rng.choice(MUTABLE) if bad == "tag-mutable" else immutable_tag(rng)
    ns = "kube-system"
    return f"""# {name}: cluster add-on, mirrored into our ECR
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {name}
  namespace: {ns}
  annotations:
    eks.amazonaws.com/role-arn: {q(rng, f"arn:aws:iam::{irsa_acct}:role/eks-{name}")}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {ns}
spec:
  replicas: 2
  selector:
    matchLabels:
      app.kubernetes.io/name: {name}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {name}
    spec:
      serviceAccountName: {name}
      priorityClassName: system-cluster-critical
      containers:
        - name: {name}
          image: {q(rng, f"{registry(img_acct)}/mirror/{name}:{tag}")}
          args:
            - --aws-region={REGION}
            - --log-format=json
          resources:
            requests:
              cpu: 100m
              memory: 128Mi
"""


# The problems each kind of file can carry. Weighted towards placeholders, which manifix
# reports wherever they stand.
VARIANTS = {
    "base-kustomization": ("patch-irsa-placeholder",),
    "serviceaccount": ("irsa-placeholder",),
    "deployment": ("image-placeholder", "env-arn-placeholder", "sidecar-mutable"),
    "service": ("cert-placeholder",),
    "configmap": ("arn-placeholder", "ecr-placeholder"),
    "cronjob": ("image-placeholder", "tag-mutable"),
    "workflowtemplate": ("image-placeholder", "tag-mutable"),
    "overlay": ("newname-placeholder", "newtag-mutable", "newtag-mutable",
                "patch-irsa-placeholder", "smp-image-placeholder"),
    "config-patch": ("arn-placeholder",),
    "platform": ("irsa-placeholder", "image-placeholder", "tag-mutable"),
}


def render(app: App | None, kind: str, rng: random.Random, bad: str | None, extra: str) -> str:
    base_kind, _, env = kind.partition(":")
    if base_kind == "platform":
        return r_platform(extra, rng, bad)
    assert app is not None
    fn = {
        "base-kustomization": r_base_kustomization,
        "serviceaccount": r_serviceaccount,
        "deployment": r_deployment,
        "service": r_service,
        "configmap": r_configmap,
        "cronjob": r_cronjob,
        "workflowtemplate": r_workflowtemplate,
    }.get(base_kind)
    if fn is not None:
        return fn(app, rng, bad)
    if base_kind == "overlay":
        return r_overlay(app, env, rng, bad)
    if base_kind == "config-patch":
        return r_config_patch(app, env, rng, bad)
    raise ValueError(kind)


# --------------------------------------------------------------------------------------------
# Planning: which files exist (path, kind, app), decided before any content is rendered, so
# that the files carrying problems can be drawn uniformly from all of them.


class Planned:
    __slots__ = ("path", "kind", "app", "extra")

    def __init__(self, path: str, kind: str, app: App | None, extra: str = ""):
        self.path = path
        self.kind = kind
        self.app = app
        self.extra = extra


def plan_monorepo(n_files: int, rng: random.Random) -> list[Planned]:
    plan: list[Planned] = []
    used: set[tuple[str, str]] = set()
    n_platform = 0
    while len(plan) < n_files:
        budget = n_files - len(plan)
        if budget < 4:
            # Too few left for a kustomize app: fill with self-contained add-on manifests.
            name = f"{PLATFORM[n_platform % len(PLATFORM)]}-{n_platform // len(PLATFORM)}"
            plan.append(Planned(f"platform/{name}.yaml", "platform", None, name))
            n_platform += 1
            continue
        team = rng.choice(TEAMS)
        name = f"{rng.choice(APP_HEADS)}-{rng.choice(APP_TAILS)}"
        stem, k = name, 2
        while (team, name) in used:
            name, k = f"{stem}-{k}", k + 1
        used.add((team, name))
        app = App(team, name, rng)
        app.shrink_to(budget)
        for rel, kind in app.files():
            plan.append(Planned(f"apps/{team}/{name}/{rel}", kind, app))
    return plan


def choose_bad(plan: list[Planned], ratio: float, rng: random.Random) -> dict[int, str]:
    n_bad = round(len(plan) * ratio)
    if ratio > 0 and n_bad == 0:
        n_bad = 1
    n_bad = min(n_bad, len(plan))
    chosen = rng.sample(range(len(plan)), n_bad)
    out = {}
    for i in sorted(chosen):
        kind = plan[i].kind.partition(":")[0]
        out[i] = rng.choice(VARIANTS[kind])
    return out


def write_files(out_dir: str, files: list[tuple[str, str]]) -> int:
    """Writes (relative path, text) pairs; returns the total bytes written."""
    made: set[str] = set()
    total = 0
    for rel, text in files:
        path = os.path.join(out_dir, rel)
        d = os.path.dirname(path)
        if d not in made:
            os.makedirs(d, exist_ok=True)
            made.add(d)
        data = text.encode()
        with open(path, "wb") as f:
            f.write(data)
        total += len(data)
    return total


def prepare_out(out: str) -> None:
    if os.path.exists(out) and os.listdir(out):
        sys.exit(f"gen.py: {out} exists and is not empty; remove it first (nothing was written)")
    os.makedirs(out, exist_ok=True)


def cmd_monorepo(args: argparse.Namespace) -> None:
    if args.files < 1:
        sys.exit("gen.py: --files must be at least 1")
    if not 0 <= args.match_ratio <= 1:
        sys.exit("gen.py: --match-ratio must be between 0 and 1")
    t0 = time.monotonic()
    prepare_out(args.out)
    rng = random.Random(f"monorepo:{args.seed}")
    plan = plan_monorepo(args.files, rng)
    bad = choose_bad(plan, args.match_ratio, rng)
    files = []
    for i, p in enumerate(plan):
        frng = random.Random(f"{args.seed}:{p.path}")
        files.append((p.path, render(p.app, p.kind, frng, bad.get(i), p.extra)))
    total = write_files(args.out, files)
    if args.list_matches:
        with open(args.list_matches, "w") as f:
            for i, variant in sorted(bad.items()):
                f.write(f"{plan[i].path}\t{variant}\n")
    print(
        f"monorepo {args.out}: {len(files)} files, {total / 1e6:.1f} MB "
        f"({total} bytes), {len(bad)} with something to fix "
        f"(match ratio {args.match_ratio}), seed {args.seed}, {time.monotonic() - t0:.1f}s"
    )


# --------------------------------------------------------------------------------------------
# repos: many small repositories, each needing fixes.

GIT_ENV = {
    # Fixed identity and dates: the commit ids are the same on every run and every machine,
    # and git needs no user configuration.
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    "GIT_AUTHOR_DATE": "2025-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2025-01-01T00:00:00Z",
    # Ignore the user's and the system's git config (hooks paths, signing, templates).
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def repo_files(index: int, seed: int) -> tuple[str, list[tuple[str, str]]]:
    rng = random.Random(f"repos:{seed}:{index}")
    team = rng.choice(TEAMS)
    name = f"{rng.choice(APP_HEADS)}-{rng.choice(APP_TAILS)}"
    app = App(team, name, rng)
    # 8-15 files: base with service and config always, 2-3 overlays, README.
    app.workflow = False
    app.service = app.configmap = True
    app.envs = ENVS if rng.random() < 0.5 else ENVS[1:]
    app.config_patch = {env: rng.random() < 0.5 for env in app.envs}
    planned = app.files()
    # Every repository needs both fixes: the production overlay points at the placeholder
    # registry or IRSA account, and staging follows a moving tag. On top of that, each file
    # has a one-in-five chance of another planted problem.
    bad: dict[str, str] = {
        "overlays/production/kustomization.yaml": rng.choice(
            ("newname-placeholder", "patch-irsa-placeholder")),
        "overlays/staging/kustomization.yaml": "newtag-mutable",
    }
    for rel, kind in planned:
        if rel not in bad and rng.random() < 0.2:
            bad[rel] = rng.choice(VARIANTS[kind.partition(":")[0]])
    files = []
    for rel, kind in planned:
        frng = random.Random(f"repos:{seed}:{index}:{rel}")
        files.append((rel, render(app, kind, frng, bad.get(rel), "")))
    files.append(("README.md", f"# {name}\n\nDeployment manifests of `{team}/{name}` "
                               f"(kustomize: `overlays/{{{','.join(app.envs)}}}`).\n"))
    return f"{index:04d}-{team}-{name}", files


def git_commit(path: str) -> None:
    env = {**os.environ, **GIT_ENV}
    run = lambda *a: subprocess.run(a, cwd=path, env=env, check=True,  # noqa: E731
                                    stdout=subprocess.DEVNULL)
    run("git", "init", "-q", "-b", "main")
    run("git", "add", "-A")
    run("git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid",
        "-c", "commit.gpgsign=false", "commit", "-q", "--no-verify",
        "-m", "Initial manifests")


def cmd_repos(args: argparse.Namespace) -> None:
    if args.count < 1:
        sys.exit("gen.py: --count must be at least 1")
    if shutil.which("git") is None:
        sys.exit("gen.py: git is not installed")
    t0 = time.monotonic()
    prepare_out(args.out)
    names = []
    n_files = total = 0
    for i in range(args.count):
        name, files = repo_files(i, args.seed)
        total += write_files(os.path.join(args.out, name), files)
        n_files += len(files)
        names.append(name)
    # git is the slow part (three processes per repository): run a few at once.
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2) * 2) as pool:
        list(pool.map(git_commit, (os.path.join(args.out, n) for n in names)))
    with open(os.path.join(args.out, "repos.txt"), "w") as f:
        f.writelines(n + "\n" for n in names)
    print(
        f"repos {args.out}: {len(names)} repositories, {n_files} files, "
        f"{total / 1e6:.1f} MB ({total} bytes), seed {args.seed}, "
        f"{time.monotonic() - t0:.1f}s"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    m = sub.add_parser("monorepo", help="one large monorepo of kustomize apps")
    m.add_argument("out")
    m.add_argument("--files", type=int, required=True, help="exact number of YAML files")
    m.add_argument("--match-ratio", type=float, default=0.01,
                   help="fraction of files with something to fix (default 0.01)")
    m.add_argument("--seed", type=int, default=1)
    m.add_argument("--list-matches", metavar="FILE",
                   help="write the files that carry a planted problem (path<TAB>variant)")
    m.set_defaults(func=cmd_monorepo)
    r = sub.add_parser("repos", help="many small git repositories, for manifix bulk")
    r.add_argument("out")
    r.add_argument("--count", type=int, required=True)
    r.add_argument("--seed", type=int, default=1)
    r.set_defaults(func=cmd_repos)
    args = ap.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
