"""Hostile flow files, shared by the unit suite and the live (e2e) suite.

Each attack is (id, file text or bytes, line, message fragment): the file must be
refused with an error on that line whose message holds the fragment.
"""

from __future__ import annotations

from dataclasses import dataclass

BASE = """name: {name}
numbers: ["{number}"]
start: a
nodes:
"""


def flow(nodes: str, name: str = "hostile", number: str = "555") -> str:
    return BASE.format(name=name, number=number) + nodes


def collect(pattern: str) -> str:
    return flow(f"""  a:
    type: collect
    prompt: acd-enter-order-number
    variable: x
    max_digits: 64
    pattern: '{pattern}'
    next: b
  b: {{type: hangup}}
""")


def transfer(field: str, value: str) -> str:
    return flow(f"""  a:
    type: transfer
    {field}: "{value}"
""")


def http(url: str) -> str:
    return flow(f"""  a:
    type: http
    url: "{url}"
    next: b
    on_failure: b
  b: {{type: hangup}}
""")


def billion_laughs() -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 9)}]")
    return "\n".join(lines) + "\n" + flow("  a: {type: hangup}\n")


def deep(n: int = 5000) -> str:
    return flow("  a: {type: hangup}\n") + "extra: " + "[" * n + "]" * n + "\n"


def many_nodes(n: int = 1001) -> str:
    body = "".join(f"  n{i}: {{type: play, prompt: acd-welcome, next: n{i + 1}}}\n"
                   for i in range(n))
    return flow(f"  a: {{type: goto, target: n0}}\n{body}  n{n}: {{type: hangup}}\n")


def many_values(n: int = 25_000) -> str:
    return flow("  a:\n    type: hangup\n    description: x\n") + "extra: [" + ",".join(
        ["1"] * n) + "]\n"


@dataclass(frozen=True)
class Attack:
    id: str
    text: str | bytes
    line: int
    message: str


ATTACKS: list[Attack] = [
    Attack("redos_nested_plus", collect("^(1+)+$"), 10, "nested quantifier"),
    Attack("redos_nested_star", collect("(1*)*#"), 10, "nested quantifier"),
    Attack("redos_repeated_bounded_group", collect("^([0-9]{2})+$"), 10, "nested quantifier"),
    Attack("redos_backreference", collect("^([0-9])\\1+$"), 10, "back-reference"),
    Attack("redos_lookahead", collect("^(?=1)[0-9]+$"), 10, "look-ahead"),
    Attack("redos_long_pattern", collect("1" * 300), 10, "pattern is too long"),
    Attack("yaml_alias_bomb", billion_laughs(), 1, "YAML anchor '&a0' is not allowed"),
    Attack("yaml_alias_reuse",
           flow("  a: &h {type: hangup}\n  b: *h\n"), 5, "YAML anchor '&h' is not allowed"),
    Attack("yaml_merge_key_duplicate",
           flow("  a:\n    <<: {type: play, prompt: acd-welcome, next: a}\n    type: hangup\n"),
           6, "YAML merge key '<<' is not allowed"),
    Attack("yaml_python_tag",
           flow("  a: !!python/object/apply:os.system ['id']\n"), 5, "YAML syntax"),
    Attack("yaml_deep_flow_sequence", deep(), 6, "nested too deep"),
    Attack("yaml_deep_block_mapping",
           flow("  a: {type: hangup}\n") + "extra:\n" + "".join(
               "  " * (i + 1) + f"k{i}:\n" for i in range(40)) + "  " * 41 + "v\n",
           29, "nested too deep"),
    Attack("too_many_nodes", many_nodes(), 4, "too many nodes: 1,003"),
    Attack("too_many_values", many_values(), 8, "too many values"),
    Attack("subflow_calls_itself",
           flow("  a: {type: subflow, flow: hostile, next: b}\n  b: {type: hangup}\n"),
           5, "subflow cycle: hostile -> hostile"),
    Attack("bidi_override_in_name", flow("  a: {type: hangup}\n", name="main\u202egpj.exe"),
           1, "bidirectional-text control U+202E"),
    Attack("bidi_isolate_in_prompt",
           flow("  a: {type: hangup, prompt: \"acd-goodbye\u2066x\"}\n"), 5,
           "bidirectional-text control U+2066"),
    Attack("zero_width_in_name", flow("  a: {type: hangup}\n", name="ma\u200bin"), 1,
           "flow name 'ma\\u200bin' must be"),
    Attack("number_empty", flow("  a: {type: hangup}\n", number=""), 2,
           "number '' must be 1 to 32 ASCII digits"),
    Attack("number_arabic_indic_digits", flow("  a: {type: hangup}\n", number="\u0661\u0660\u0660"),
           2, "must be 1 to 32 ASCII digits"),
    Attack("number_fullwidth_digits", flow("  a: {type: hangup}\n", number="\uff11\uff10\uff10"),
           2, "must be 1 to 32 ASCII digits"),
    Attack("prompt_path_traversal",
           flow("  a: {type: hangup, prompt: 'sound:../../../etc/passwd'}\n"), 5,
           "inside the sounds folder"),
    Attack("prompt_absolute_path",
           flow("  a: {type: hangup, prompt: 'sound:/etc/passwd'}\n"), 5,
           "inside the sounds folder"),
    Attack("prompt_traversal_in_queue_announce",
           flow("  a:\n    type: queue\n    queue: sales\n    announce:\n"
                "      prompt: 'sound:en/../../../../etc/shadow'\n"), 9,
           "inside the sounds folder"),
    Attack("transfer_second_dial_string", transfer("endpoint", "PJSIP/200&PJSIP/201"), 7,
           "endpoint 'PJSIP/200&PJSIP/201' is not allowed"),
    Attack("transfer_dial_options", transfer("endpoint", "PJSIP/200,30,tTL(1)"), 7,
           "no '&', ',', spaces or dial options"),
    Attack("transfer_number_injection", transfer("number", "${caller}&Local/1@x"), 7,
           "number '${caller}&Local/1@x' is not allowed"),
    Attack("transfer_extension_injection", transfer("extension", "100,1"), 7,
           "extension '100,1' is not allowed"),
    Attack("ssrf_redis", http("http://127.0.0.1:6379/"), 7,
           "http://127.0.0.1:6379/ is not in ivr.http_allow"),
    Attack("ssrf_cloud_metadata", http("http://169.254.169.254/latest/meta-data/"), 7,
           "not in ivr.http_allow"),
    Attack("ssrf_ipv6_loopback", http("http://[::1]:8080/api/agents"), 7, "acd's own API"),
    Attack("ssrf_private_network", http("http://10.0.0.1/"), 7, "not in ivr.http_allow"),
    Attack("ssrf_own_api_logout", http("http://127.0.0.1:8080/api/agents/${caller}/logout"), 7,
           "acd's own API (127.0.0.1:8080) is never reachable from a flow"),
    Attack("ssrf_own_api_via_dot_segments", http("http://127.0.0.1:8080/demo/../api/agents"), 7,
           "may not contain '..'"),
    Attack("ssrf_credentials_in_url", http("http://user:pw@crm.example.com/"), 7,
           "may not carry a user name or password"),
    Attack("not_utf8", b"name: x\nnumbers: ['1']\nstart: a\nnodes:\n  a: {type: hangup}\n"
           b"# \xff\xfe\n", 1, "cannot read the file"),
]
