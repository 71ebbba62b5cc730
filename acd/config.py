"""Typed settings: defaults < YAML file < environment variables.

`ari.url: sim` (the default in `config/acd.yaml`) means "no Asterisk is
configured": acd starts its built-in simulator and points itself at it.
Environment variables override single fields, e.g. ``ACD_ARI_URL``,
``ACD_ARI_PASSWORD``, ``ACD_REDIS_URL``, ``ACD_PG_DSN``, ``ACD_FLOWS``.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from acd.agents.phone import Policy
from acd.errors import ConfigError
from acd.ivr.catalog import IvrSettings
from acd.reports.settings import ReportSettings
from acd.routing.model import QueueDef, RoutingSettings

DEFAULT_CONFIG = Path("config/acd.yaml")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AriSettings(_Model):
    url: str = "sim"
    app: str = "acd"
    # More Stasis applications whose calls this acd also serves (the dialplan spreads
    # callers over `acd-0..N` so that Asterisk's one event thread per app is not one
    # for all): subscribed on the same events socket; acd's own legs go to `app`.
    apps: list[str] = []
    # Which events Asterisk sends the calls' apps: only those acd uses (allow), all but
    # a few it never reads (disallow), or every one (none).
    event_filter: Literal["allow", "disallow", "none"] = "allow"
    user: str | None = "acd"
    password: SecretStr | None = SecretStr("acd")
    api_key: SecretStr | None = None
    timeout: float = 5.0

    @property
    def simulated(self) -> bool:
        return self.url in ("", "sim")


class ApiSettings(_Model):
    host: str = "127.0.0.1"
    port: int = 8080
    # The demo back-ends (/demo/orders, /demo/crm, /demo/payments) the example flows
    # ask: mounted only in demo mode (`acd run` on the simulator with its demo on).
    demo: bool = False
    # Session cookie: Secure when the page came over https (auto), always, or never.
    cookie_secure: Literal["auto", "always", "never"] = "auto"
    session_max_age: int = Field(default=12 * 3600, gt=60)
    # Other origins whose pages may change state (a reverse proxy's public URL).
    allowed_origins: list[str] = Field(default_factory=list)
    login_failures_per_user: int = Field(default=5, ge=1)
    login_failures_per_address: int = Field(default=20, ge=1)
    login_window: int = Field(default=300, ge=1)


DEFAULT_DISPOSITIONS = ("resolved", "follow_up", "sale", "no_sale", "wrong_number")


class QueueDesk(_Model):
    """What the desktop and the wallboard show of one queue."""

    dispositions: list[str] = Field(default_factory=lambda: list(DEFAULT_DISPOSITIONS))
    service_level_s: float = Field(default=20.0, gt=0)
    # Colour thresholds: waiting callers, longest wait (s), service level (%).
    waiting_warn: int = 2
    waiting_alert: int = 5
    longest_wait_warn: float = 30.0
    longest_wait_alert: float = 60.0
    service_level_warn: float = 80.0
    service_level_alert: float = 60.0


class DeskSettings(_Model):
    """The agent desktop and the supervisor wallboard."""

    break_reasons: list[str] = Field(
        default_factory=lambda: ["lunch", "coffee", "training", "meeting", "personal"])
    wrapup_extension: float = Field(default=30.0, gt=0)  # seconds added per request
    wrapup_extension_max: float = Field(default=120.0, ge=0)  # in all, per wrap-up
    queues: dict[str, QueueDesk] = Field(default_factory=dict)
    # The live snapshot is rebuilt at most this often (s), and today's figures
    # are read from PostgreSQL this often.
    snapshot_interval: float = Field(default=0.2, ge=0.05)
    figures_interval: float = Field(default=5.0, ge=0.5)

    def queue(self, name: str) -> QueueDesk:
        return self.queues.get(name) or QueueDesk()


class SimSettings(_Model):
    """The built-in simulator, used when `ari.url` is `sim`."""

    host: str = "127.0.0.1"
    port: int = 8088
    # Demo traffic: callers arriving and pressing digits, so `make run` shows life.
    demo: bool = True
    demo_calls_per_minute: float = 20.0
    demo_agents_answer_after: float = 1.5
    demo_talk_time: float = 20.0


class AgentSettings(_Model):
    id: str
    name: str
    endpoint: str
    skills: dict[str, int] = Field(default_factory=dict)
    order: int = 0
    # At start: True logs the agent in, False leaves them as they are, None (the
    # default) restores their last known state: the one Redis holds, else the last
    # row of agent_states in PostgreSQL, else logged out (a fresh start).
    login: bool | None = None
    # What the agent's state does when their phone comes and goes (acd/agents/phone.py
    # Policy); None: phones.policy.
    phone_policy: Policy | None = None


class PhoneSettings(_Model):
    """Agents' phones (acd/agents/phone.py, acd/calls/phases/connected.py)."""

    # keep | available | login | pause: see acd.agents.phone.Policy.
    policy: Policy = "available"
    # A caller whose agent's phone vanished mid-call (RTP timeout, cause 44...):
    # "requeue" puts them back at the head of their queue after `agent_lost_prompt`,
    # "hangup" plays the prompt and hangs up `agent_lost_hangup_after` s later.
    agent_lost: Literal["requeue", "hangup"] = "requeue"
    agent_lost_prompt: list[str] = Field(default_factory=lambda: ["sound:acd-please-hold"])
    agent_lost_hangup_after: float = Field(default=4.0, ge=0)
    max_requeues: int = Field(default=2, ge=0)  # then the caller is told and hung up


class WriterSettings(_Model):
    batch_size: int = 500
    flush_interval: float = 0.05
    spool_dir: str = "var/spool"


CALLBACK_MARGIN_S = 5.0


class CallbackSettings(_Model):
    """How acd calls back a caller who pressed the callback key in a queue.

    When an agent is reserved for the task, acd dials `endpoint` with `{number}`
    replaced by the caller's number; once the caller answers, the agent's phone
    rings as for any call. A caller who does not answer is tried again after
    `retry_delay`, at most `max_attempts` times, keeping their place in the queue."""

    endpoint: str = "PJSIP/{number}@caller-trunk"
    ring_timeout: float = Field(default=25.0, gt=0)
    retry_delay: float = Field(default=300.0, ge=0)
    max_attempts: int = Field(default=3, ge=1)
    caller_id: str = ""  # the number the called-back caller sees ("" = Asterisk's default)
    prompt: list[str] = Field(default_factory=lambda: ["sound:acd-callback-connecting"])


class TransferSettings(_Model):
    """Transfers and escalation (issue 17, docs/call-control.md)."""

    # Escalate consults the first available agent of this queue (supervisors who
    # take calls: give them a skill only they hold and a queue that needs it).
    supervisors_queue: str = "supervisors"
    # The dialplan context a caller transferred to a number continues in
    # (config/asterisk/extensions.conf [agents]: 0... and +... go out); a consult
    # to a number is dialled there too, ringing at most `number_ring_timeout` s.
    context: str = "agents"
    number_ring_timeout: float = Field(default=30.0, gt=0)


class Settings(_Model):
    ari: AriSettings = Field(default_factory=AriSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    sim: SimSettings = Field(default_factory=SimSettings)
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = "acd"
    # redis_url names one node of a Redis Cluster (the others are discovered).
    redis_cluster: bool = False
    pg_dsn: SecretStr = SecretStr("postgresql://postgres@127.0.0.1:5432/acd")
    flows: str = "ivr_flows"
    # Values for `${settings.x}` in flows (back-end URLs...); ACD_FLOW_<X> overrides.
    flow_settings: dict[str, str] = Field(default_factory=dict)
    node_id: str = ""
    clock_speed: float = 1.0
    moh_class: str = "default"
    writer: WriterSettings = Field(default_factory=WriterSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    callbacks: CallbackSettings = Field(default_factory=CallbackSettings)
    desk: DeskSettings = Field(default_factory=DeskSettings)
    ivr: IvrSettings = Field(default_factory=IvrSettings)
    phones: PhoneSettings = Field(default_factory=PhoneSettings)
    transfers: TransferSettings = Field(default_factory=TransferSettings)
    # Seconds (clock time) between reconciliations of the calls acd holds against
    # Asterisk and routing (one also runs after every ARI (re)connect); 0 = only then.
    reconcile_every: float = Field(default=30.0, ge=0)
    reports: ReportSettings = Field(default_factory=ReportSettings)

    @model_validator(mode="after")
    def _callback_fits_the_reservation(self) -> Settings:
        # While acd rings a caller back the agent is only reserved: the reservation
        # must outlast the ring, with time left to ring the agent.
        need = self.callbacks.ring_timeout + CALLBACK_MARGIN_S
        if need > self.routing.reservation_ttl:
            raise ValueError(
                f"callbacks.ring_timeout ({self.callbacks.ring_timeout:g} s) must be at "
                f"least {CALLBACK_MARGIN_S:g} s shorter than routing.reservation_ttl "
                f"({self.routing.reservation_ttl:g} s): the agent stays reserved while "
                "acd rings the caller back")
        return self
    queues: list[QueueDef] = Field(default_factory=list)
    agents: list[AgentSettings] = Field(default_factory=list)

    def resolved_node_id(self) -> str:
        return self.node_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


# Environment variable -> dotted settings path.
ENV_MAP: dict[str, str] = {
    "ACD_ARI_URL": "ari.url",
    "ACD_ARI_APP": "ari.app",
    "ACD_ARI_USER": "ari.user",
    "ACD_ARI_PASSWORD": "ari.password",
    "ACD_ARI_API_KEY": "ari.api_key",
    "ACD_REDIS_URL": "redis_url",
    "ACD_REDIS_PREFIX": "redis_prefix",
    "ACD_REDIS_CLUSTER": "redis_cluster",
    "ACD_PG_DSN": "pg_dsn",
    "ACD_FLOWS": "flows",
    "ACD_NODE_ID": "node_id",
    "ACD_CLOCK_SPEED": "clock_speed",
    "ACD_API_HOST": "api.host",
    "ACD_API_PORT": "api.port",
    "ACD_SIM_PORT": "sim.port",
    "ACD_SIM_DEMO": "sim.demo",
    "ACD_API_DEMO": "api.demo",
    "ACD_API_COOKIE_SECURE": "api.cookie_secure",
    "ACD_SPOOL_DIR": "writer.spool_dir",
}


def api_base_url(settings: Settings) -> str:
    """Where acd's own REST API answers, from api.host / api.port (a wildcard bind
    address is reached on loopback)."""
    host = settings.api.host
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.api.port}"


def _set_path(data: dict[str, Any], dotted: str, value: str) -> None:
    parts = dotted.split(".")
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def load_settings(
    path: Path | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Read the YAML file (if any), then apply environment overrides."""
    env = os.environ if env is None else env
    named = path is not None or bool(env.get("ACD_CONFIG"))
    where = "--config" if path is not None else "ACD_CONFIG"
    path = path or Path(env.get("ACD_CONFIG") or str(DEFAULT_CONFIG))
    data: dict[str, Any] = {}
    if named and not path.is_file():
        # A file the operator named must be there: starting on defaults instead (the
        # simulator, the default database and prefix) would hide the mistake.
        raise ConfigError(f"{path} ({where}): no such configuration file; fix the path or "
                          "unset it to use config/acd.yaml", file=str(path))
    if path.exists():
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}", file=str(path)) from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping", file=str(path))
        data = loaded or {}
    for var, dotted in ENV_MAP.items():
        if var in env:
            _set_path(data, dotted, env[var])
    agents_file = env.get("ACD_AGENTS_FILE")
    if agents_file:
        if not Path(agents_file).is_file():
            raise ConfigError(f"{agents_file} (ACD_AGENTS_FILE): no such agents file",
                              file=agents_file)
        agents = yaml.safe_load(Path(agents_file).read_text(encoding="utf-8"))
        data["agents"] = agents.get("agents", agents) if isinstance(agents, dict) else agents
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}", file=str(path)) from exc
