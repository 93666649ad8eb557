"""The Mosquitto configuration of a branch broker, and of its bridge to the head office.

The numbers below are chosen for the branch's traffic (docs/install-broker.md explains
them to the installer):

- Devices connect over TLS only; plain MQTT listens on loopback alone, for the branch server
  on the broker's host. Both listeners share one password file and ACL.
- Mosquitto queues QoS 1 messages per client: for a client that is offline with a kept
  session (the branch server while it restarts, the bridge while the head office is
  unreachable) and for one that is online but slow to acknowledge. When the queue is full
  it drops new messages (logging "Outgoing messages are being dropped"). The limits are set
  so that this does not happen in a branch's normal life: a busy branch makes about 5,000
  events a day, and the bridge can queue four such days; the byte limit keeps one stuck
  client from taking the broker host's memory (a Pi's).
- Each user's client id is its user name (`use_username_as_clientid`): a login can be one
  connection only (a second one replaces the first), and no user can take over another's
  session, the server's above all.
- No packet may be larger than MAX_PACKET_BYTES: the largest the contract sends is a whole
  line on a staff panel (about 215 bytes a waiting ticket); a device that sends more is
  disconnected, so a stolen login cannot park megabytes in a retained status.
"""

from __future__ import annotations

from dataclasses import dataclass

from nowserving.protocol import Topics
from nowserving.protocol.acl import bridge_status_topic
from nowserving.protocol.vocabulary import HEAD_OFFICE

MAX_INFLIGHT = 20  # Mosquitto's default: unacknowledged QoS 1 messages on the wire per client
MAX_QUEUED_MESSAGES = 20_000  # behind those, per client
MAX_QUEUED_BYTES = 32 * 1024 * 1024  # ... and at most this much per client
BRIDGE_RESTART_S = (5, 60)  # reconnect after 5 s, backing off to once a minute
# A line of about 9,000 waiting tickets (215 bytes each, estimates included), more than a
# branch hall holds; a command is at most 4 KiB, a status or a summary a few.
MAX_PACKET_BYTES = 2 * 1024 * 1024
# Connections per listener: each user can hold one, so this bounds only logins that never
# finish (TLS handshakes); generous, since Mosquitto reads it only when it starts.
MIN_CONNECTIONS = 256


@dataclass(frozen=True)
class BrokerLayout:
    """Where the broker's files live on the branch server, and where it listens."""

    folder: str = "/etc/mosquitto/nowserving"  # passwd, acl, certificates
    tls_port: int = 8883  # for devices
    tls_bind: str | None = None  # None: every interface
    local_port: int | None = 1883  # plain MQTT on 127.0.0.1, for the server; None: none

    def path(self, name: str) -> str:
        """The path of `name` in the broker's folder."""
        return f"{self.folder.rstrip('/')}/{name}"


def branch_broker_conf(branch: str, layout: BrokerLayout, users: int = 0) -> str:
    """The branch broker's config (a file for /etc/mosquitto/conf.d/) for `users` logins."""
    bind = f" {layout.tls_bind}" if layout.tls_bind else ""
    connections = max(MIN_CONNECTIONS, 4 * users)
    lines = [
        f"# Mosquitto for nowserving branch {branch}: made by `nowserving provision`; re-run",
        "# it rather than editing this file. See docs/install-broker.md.",
        "",
        "# One password file and ACL for every listener: a device id and its password, or",
        "# `server`. Reloaded on SIGHUP (systemctl reload mosquitto).",
        "per_listener_settings false",
        "allow_anonymous false",
        f"password_file {layout.path('passwd')}",
        f"acl_file {layout.path('acl')}",
        "",
        "# Devices: TLS only, with the branch's own CA (devices log in with a password;",
        "# client certificates are not used).",
        f"listener {layout.tls_port}{bind}",
        "# A user's client id is its name: nobody takes over another's session.",
        "use_username_as_clientid true",
        f"max_connections {connections}",
        f"cafile {layout.path('ca.pem')}",
        f"certfile {layout.path('server.pem')}",
        f"keyfile {layout.path('server.key')}",
        "tls_version tlsv1.2",
    ]
    if layout.local_port:
        lines += [
            "",
            "# The branch server on this host: plain MQTT, reachable from this host only.",
            f"listener {layout.local_port} 127.0.0.1",
            "use_username_as_clientid true",
            f"max_connections {connections}",
        ]
    lines += [
        "",
        "# Nagle off: a QoS 1 request/reply takes 0.74 ms instead of 88 ms (bench/).",
        "set_tcp_nodelay true",
        "# Kept sessions and their queued messages survive a broker restart.",
        "persistence true",
        "# QoS 1 messages are queued, not dropped, for a slow or briefly absent client:",
        "# the server while it restarts, the bridge while the head office is unreachable.",
        f"max_inflight_messages {MAX_INFLIGHT}",
        f"max_queued_messages {MAX_QUEUED_MESSAGES}",
        f"max_queued_bytes {MAX_QUEUED_BYTES}",
        "# The largest packet the contract needs (a whole waiting line): a client sending",
        "# more is disconnected.",
        f"max_packet_size {MAX_PACKET_BYTES}",
    ]
    return "\n".join(lines) + "\n"


def _web_topics(t: Topics, web: tuple[str, ...]) -> list[str]:
    """What a web role at the head office needs (docs/web.md): the lines and the ticket
    records out, and its commands back in to the branch server, answered out."""
    if not web:
        return []
    lines = [
        "# The web role at the head office: lines and ticket records out; its commands",
        "# (cancel, step out, rate for a customer) in, and the server's replies out.",
        f"topic {t.base}/line/+ out 0",
        f"topic {t.web_tickets} out 1",
        f"topic {t.web_hall} out 1",
    ]
    for device in web:
        lines += [f"topic {t.command(device)} in 1", f"topic {t.reply(device)} out 1"]
    return lines


def bridge_user(branch: str) -> str:
    """The user (and client id) a branch's bridge has at the head office."""
    return f"bridge-{branch}"


def bridge_conf(
    branch: str,
    address: str,
    password: str,
    cafile: str,
    restart_s: tuple[int, int] = BRIDGE_RESTART_S,
    web: tuple[str, ...] = (),
) -> str:
    """The branch broker's bridge to the head office at `address` (HOST:PORT), over TLS.

    It holds the bridge's password: a secret file.
    """
    t = Topics(branch)
    user = bridge_user(branch)
    lines = [
        f"# Bridge from nowserving branch {branch} to the head office: made by",
        "# `nowserving provision --head-office`. It holds a password: keep it 0600.",
        "connection head-office",
        f"address {address}",
        f"bridge_cafile {cafile}",
        "bridge_insecure false",
        "bridge_protocol_version mqttv311",
        # Mosquitto's private bridge flag is unknown to other brokers (EMQX, ...), and only
        # loops need it: this bridge only sends.
        "try_private false",
        f"remote_clientid {user}",
        f"remote_username {user}",
        f"remote_password {password}",
        "# While the head office is unreachable the branch goes on serving, and the branch",
        "# broker keeps the bridge's session: events and statuses are queued and sent",
        "# when the link is back (up to max_queued_messages). The state is not queued:",
        "# every reconnection sends the retained current state, which is all that counts.",
        "cleansession false",
        f"restart_timeout {restart_s[0]} {restart_s[1]}",
        "keepalive_interval 60",
        f"topic {t.state} out 0",
        f"topic {t.events} out 1",
        f"topic {t.base}/status/# out 1",
        "# The head office's ingest repairs a gap from the server's log (events_range).",
        f"topic {t.command(HEAD_OFFICE)} in 1",
        f"topic {t.reply(HEAD_OFFICE)} out 1",
        *_web_topics(t, web),
        "# The head office sees whether the link is up: 1, or 0 (a last will) when lost.",
        "notifications true",
        f"notification_topic {bridge_status_topic(branch)}",
    ]
    return "\n".join(lines) + "\n"
