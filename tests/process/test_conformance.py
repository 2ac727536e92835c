"""Raw-socket HTTP/1.1 conformance suite (RFC 9112 message syntax and framing, RFC 9110
semantics and limits) against one ringfork worker started with --demo and small limits.

Every case in CASES is an exact byte sequence and the exact expected outcome: the status
of the first response and whether the connection then stays "open" or is "close"d. The
runner always appends one well-formed follow-up request (FOLLOW) in the same write:
- "open": the follow-up must be answered with 200 on the same connection, which proves
  the first message was framed exactly (no body bytes left behind or over-read);
- "close": the server must close without answering the follow-up (after a framing error
  nothing that follows can be trusted; RFC 9112 §2.2, §6.3, §9.6).

One test method is generated per case (test_<group>_<nnn>_<name>), plus one
test_<group>_zz_server_healthy per group that checks, after the group's cases, that a fresh
connection still gets 200 and that the worker process never died (was not respawned).

Where the RFCs allow a choice, the comment beside the case names the option asserted.
Cases marked "RFC SHOULD" / "RFC MUST" state why the expectation is what it is.

Messages spread over time are in test_conformance_streams.py (pipelines, split writes,
Expect: 100-continue, early limit refusals) and test_conformance_deadlines.py; the server
and connection they all use are in conformance_helpers.py.
"""
import re

import rftest
import conformance_helpers
from conformance_helpers import (CHUNKED, GET, HELLO, HOST, LIMIT_ARGS, MAX_BODY, MAX_HEADER_BYTES, MAX_HEADERS,
                                 MAX_REQUEST_LINE, OK)

FOLLOW = b"GET /plaintext HTTP/1.1\r\nHost: follow\r\n\r\n"


def line_of(length):
    """GET request line (without CRLF) of exactly `length` bytes."""
    return b"GET /" + b"a" * (length - len(b"GET / HTTP/1.1")) + b" HTTP/1.1"


def head_of(length):
    """GET /plaintext request head of exactly `length` bytes, padded with one X field."""
    fixed = len(GET + HOST + b"X: \r\n\r\n")
    return GET + HOST + b"X: " + b"v" * (length - fixed) + b"\r\n\r\n"


def with_fields(n):
    """GET /plaintext with Host plus n-1 more field lines (n field lines in all)."""
    return GET + HOST + b"".join(b"X-%d: v\r\n" % i for i in range(1, n)) + b"\r\n"


def body_req(length):
    return GET + HOST + b"Content-Length: %d\r\n\r\n" % length + b"b" * length


assert len(line_of(MAX_REQUEST_LINE)) == MAX_REQUEST_LINE
assert len(head_of(MAX_HEADER_BYTES)) == MAX_HEADER_BYTES

# (group, name, exact bytes, expected first status (int, or tuple of acceptable ones),
#  "open" | "close", optional checks: {"headers": {name: value}, "body": bytes, "no_header": [names]})
CASES = [
    # ---- RFC 9112 §2.2 message parsing: line terminators, leading empty lines, bare CR ----
    ("9112_2_2_message", "baseline", OK, 200, "open", {"body": HELLO}),
    ("9112_2_2_message", "one_leading_crlf_ignored", b"\r\n" + OK, 200, "open"),
    ("9112_2_2_message", "leading_bare_lf_ignored", b"\n" + OK, 200, "open"),
    ("9112_2_2_message", "eight_leading_crlf_ignored", b"\r\n" * 8 + OK, 200, "open"),
    # Choice: "SHOULD ignore at least one empty line"; more than 8 is refused.
    ("9112_2_2_message", "nine_leading_crlf_rejected", b"\r\n" * 9 + OK, 400, "close"),
    # Choice: a recipient MAY accept a bare LF as line terminator (start-line and fields).
    ("9112_2_2_message", "bare_lf_terminators_accepted",
     b"GET /plaintext HTTP/1.1\nHost: a\n\n", 200, "open"),
    ("9112_2_2_message", "crlf_after_request_before_next", OK + b"\r\n", 200, "open"),
    # Bare CR: MUST treat the element as invalid or replace with SP; rejected here.
    ("9112_2_2_message", "bare_cr_in_request_line", b"GET /plaintext\rHTTP/1.1\r\n" + HOST + b"\r\n", 400, "close"),
    ("9112_2_2_message", "bare_cr_leading_line", b"\rGET /plaintext HTTP/1.1\r\n" + HOST + b"\r\n", 400, "close"),
    # MUST reject or ignore whitespace-preceded lines after the start-line; rejected here.
    ("9112_2_2_message", "whitespace_before_first_field", GET + b" Host: a\r\n\r\n", 400, "close"),
    ("9112_2_2_message", "garbage_line", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400, "close"),

    # ---- RFC 9112 §3 request-line: method, separators, version ----
    ("9112_3_request_line", "get_json", b"GET /json HTTP/1.1\r\n" + HOST + b"\r\n", 200, "open",
     {"headers": {"content-type": "application/json"}}),
    ("9112_3_request_line", "head_has_no_body", b"HEAD /plaintext HTTP/1.1\r\n" + HOST + b"\r\n", 200, "open",
     {"headers": {"content-length": "13"}}),
    ("9112_3_request_line", "unrouted_path_404", b"GET /nope HTTP/1.1\r\n" + HOST + b"\r\n", 404, "open"),
    ("9112_3_request_line", "root_404_with_demo_only", b"GET / HTTP/1.1\r\n" + HOST + b"\r\n", 404, "open"),
    ("9112_3_request_line", "post_not_allowed_405",
     b"POST /plaintext HTTP/1.1\r\n" + HOST + b"Content-Length: 0\r\n\r\n", 405, "open",
     {"headers": {"allow": "GET, HEAD"}}),
    ("9112_3_request_line", "put_with_body_405_body_consumed",
     b"PUT /json HTTP/1.1\r\n" + HOST + b"Content-Length: 4\r\n\r\nGET ", 405, "open",
     {"headers": {"allow": "GET, HEAD"}}),
    ("9112_3_request_line", "delete_405", b"DELETE /plaintext HTTP/1.1\r\n" + HOST + b"\r\n", 405, "open",
     {"headers": {"allow": "GET, HEAD"}}),
    # RFC 9110 §9.1: unrecognised method SHOULD get 501; the framing is intact, so keep-alive.
    ("9112_3_request_line", "unknown_method_501", b"FOO /plaintext HTTP/1.1\r\n" + HOST + b"\r\n", 501, "open"),
    ("9112_3_request_line", "method_is_case_sensitive_501", b"get /plaintext HTTP/1.1\r\n" + HOST + b"\r\n", 501, "open"),
    ("9112_3_request_line", "unknown_method_with_body_501",
     b"BREW /plaintext HTTP/1.1\r\n" + HOST + b"Content-Length: 3\r\n\r\nxyz", 501, "open"),
    ("9112_3_request_line", "method_with_non_token_char", b"GE(T /plaintext HTTP/1.1\r\n" + HOST + b"\r\n", 400, "close"),
    # Choice: lenient whitespace parsing is a MAY; strict single-SP parsing (400) asserted.
    ("9112_3_request_line", "double_space_after_method", b"GET  /plaintext HTTP/1.1\r\n" + HOST + b"\r\n", 400, "close"),
    ("9112_3_request_line", "tab_separator", b"GET\t/plaintext HTTP/1.1\r\n" + HOST + b"\r\n", 400, "close"),
    ("9112_3_request_line", "trailing_space_after_version", b"GET /plaintext HTTP/1.1 \r\n" + HOST + b"\r\n", 400, "close"),
    ("9112_3_request_line", "missing_version_http09", b"GET /plaintext\r\n" + HOST + b"\r\n", 400, "close"),
    ("9112_3_request_line", "missing_target", b"GET HTTP/1.1\r\n" + HOST + b"\r\n", 400, "close"),
    ("9112_3_request_line", "version_name_lowercase", b"GET /plaintext http/1.1\r\n" + HOST + b"\r\n", 400, "close"),
    ("9112_3_request_line", "version_two_digit_minor", b"GET /plaintext HTTP/1.10\r\n" + HOST + b"\r\n", 400, "close"),
    ("9112_3_request_line", "version_not_digits", b"GET /plaintext HTTP/1.x\r\n" + HOST + b"\r\n", 400, "close"),
    ("9112_3_request_line", "version_2_0_is_505", b"GET /plaintext HTTP/2.0\r\n" + HOST + b"\r\n", 505, "close"),
    ("9112_3_request_line", "version_0_9_is_505", b"GET /plaintext HTTP/0.9\r\n" + HOST + b"\r\n", 505, "close"),
    # RFC 9110 §2.5: a higher minor version of a supported major version SHOULD be processed
    # as the highest minor version the recipient implements (here 1.1).
    ("9112_3_request_line", "version_1_2_processed_as_1_1", b"GET /plaintext HTTP/1.2\r\n" + HOST + b"\r\n", 200, "open"),

    # ---- RFC 9112 §3.2 request-target forms ----
    ("9112_3_2_target", "query_ignored_by_route", b"GET /plaintext?a=1&b HTTP/1.1\r\n" + HOST + b"\r\n", 200, "open"),
    ("9112_3_2_target", "dot_segments_removed", b"GET /x/./../plaintext HTTP/1.1\r\n" + HOST + b"\r\n", 200, "open"),
    ("9112_3_2_target", "dot_dot_stops_at_root", b"GET /../../plaintext HTTP/1.1\r\n" + HOST + b"\r\n", 200, "open"),
    ("9112_3_2_target", "percent_encoded_unreserved", b"GET /plain%74ext HTTP/1.1\r\n" + HOST + b"\r\n", 200, "open"),
    # "%zz" does not match pct-encoded: a request-line grammar violation, which per §2.2
    # SHOULD get 400 and a close, like every other malformed request line.
    ("9112_3_2_target", "bad_percent_escape", b"GET /%zz HTTP/1.1\r\n" + HOST + b"\r\n", 400, "close"),
    # Choice: an encoded NUL is refused like any target that is not a valid path (400, close).
    ("9112_3_2_target", "encoded_nul_refused", b"GET /a%00b HTTP/1.1\r\n" + HOST + b"\r\n", 400, "close"),
    ("9112_3_2_target", "fragment_not_allowed", b"GET /plaintext#frag HTTP/1.1\r\n" + HOST + b"\r\n", 400, "close"),
    ("9112_3_2_target", "nul_in_target", b"GET /plain\x00text HTTP/1.1\r\n" + HOST + b"\r\n", 400, "close"),
    ("9112_3_2_target", "non_ascii_in_target", b"GET /plain\xc3\xa9 HTTP/1.1\r\n" + HOST + b"\r\n", 400, "close"),
    # §3.2.2: a server MUST accept absolute-form; its authority replaces Host.
    ("9112_3_2_target", "absolute_form", b"GET http://a/plaintext HTTP/1.1\r\n" + HOST + b"\r\n", 200, "open"),
    ("9112_3_2_target", "absolute_form_host_differs", b"GET http://x:8080/plaintext HTTP/1.1\r\nHost: y\r\n\r\n", 200, "open"),
    ("9112_3_2_target", "absolute_form_empty_host_field", b"GET http://a/plaintext HTTP/1.1\r\nHost:\r\n\r\n", 200, "open"),
    ("9112_3_2_target", "absolute_form_scheme_case", b"GET HTTP://a/plaintext?q HTTP/1.1\r\n" + HOST + b"\r\n", 200, "open"),
    ("9112_3_2_target", "absolute_form_userinfo", b"GET http://u@a/plaintext HTTP/1.1\r\n" + HOST + b"\r\n", 400, "close"),
    ("9112_3_2_target", "authority_form_on_get", b"GET a:80 HTTP/1.1\r\n" + HOST + b"\r\n", 400, "close"),
    ("9112_3_2_target", "asterisk_form_on_get", b"GET * HTTP/1.1\r\n" + HOST + b"\r\n", 400, "close"),
    ("9112_3_2_target", "options_asterisk", b"OPTIONS * HTTP/1.1\r\n" + HOST + b"\r\n", 200, "open",
     {"headers": {"allow": "GET, HEAD, POST, DELETE, OPTIONS"}}),  # the demo's routes (POST: /tasks/, DELETE: a job)
    ("9112_3_2_target", "options_on_route_405", b"OPTIONS /plaintext HTTP/1.1\r\n" + HOST + b"\r\n", 405, "open",
     {"headers": {"allow": "GET, HEAD"}}),
    # Choice allowed by RFC 9110: an origin server without proxy support answers a well-formed
    # CONNECT with 501 (method not supported for any resource) or 405; either is accepted.
    ("9112_3_2_target", "connect_authority_form_not_supported",
     b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", (405, 501), "open"),
    ("9112_3_2_target", "connect_origin_form", b"CONNECT /plaintext HTTP/1.1\r\n" + HOST + b"\r\n", 400, "close"),
    ("9112_3_2_target", "connect_authority_without_port", b"CONNECT a HTTP/1.1\r\nHost: a\r\n\r\n", 400, "close"),

    # ---- RFC 9112 §3.2 Host (MUST 400 when missing in 1.1, repeated, or invalid) ----
    ("9112_3_2_host", "missing_host_1_1", GET + b"\r\n", 400, "close"),
    ("9112_3_2_host", "missing_host_absolute_form", b"GET http://a/plaintext HTTP/1.1\r\n\r\n", 400, "close"),
    ("9112_3_2_host", "two_host_lines", GET + HOST + HOST + b"\r\n", 400, "close"),
    ("9112_3_2_host", "two_host_lines_mixed_case", GET + b"host: a\r\nHOST: a\r\n\r\n", 400, "close"),
    ("9112_3_2_host", "two_host_lines_http_1_0", b"GET /plaintext HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400, "close"),
    ("9112_3_2_host", "host_with_space", GET + b"Host: a b\r\n\r\n", 400, "close"),
    ("9112_3_2_host", "host_with_userinfo", GET + b"Host: u@a\r\n\r\n", 400, "close"),
    ("9112_3_2_host", "host_bad_port", GET + b"Host: a:b\r\n\r\n", 400, "close"),
    ("9112_3_2_host", "host_list", GET + b"Host: a, b\r\n\r\n", 400, "close"),
    # Choice: an "http" URI may not have an empty host (RFC 9110 §4.2.1), so empty Host is refused.
    ("9112_3_2_host", "empty_host_origin_form", GET + b"Host:\r\n\r\n", 400, "close"),
    ("9112_3_2_host", "host_with_port", GET + b"Host: a:8080\r\n\r\n", 200, "open"),
    ("9112_3_2_host", "host_ipv6_literal", GET + b"Host: [::1]:80\r\n\r\n", 200, "open"),
    ("9112_3_2_host", "host_name_case_insensitive", GET + b"hOsT: a\r\n\r\n", 200, "open"),
    ("9112_3_2_host", "no_host_http_1_0", b"GET /plaintext HTTP/1.0\r\n\r\n", 200, "close"),

    # ---- RFC 9112 §5 field syntax ----
    # §5.1: a server MUST reject whitespace between field name and colon with 400.
    ("9112_5_fields", "space_before_colon", GET + b"Host : a\r\n\r\n", 400, "close"),
    ("9112_5_fields", "tab_before_colon", GET + HOST + b"X-A\t: b\r\n\r\n", 400, "close"),
    ("9112_5_fields", "space_before_colon_te", GET + HOST + b"Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400, "close"),
    # §5.2: obs-fold MUST be rejected with 400 or replaced by SP; rejected here.
    ("9112_5_fields", "obs_fold_space", GET + HOST + b"X-A: b\r\n c\r\n\r\n", 400, "close"),
    ("9112_5_fields", "obs_fold_tab", GET + HOST + b"X-A: b\r\n\tc\r\n\r\n", 400, "close"),
    # §5.5: CR, LF, NUL in a value MUST be rejected or replaced by SP; rejected here.
    ("9112_5_fields", "nul_in_value", GET + HOST + b"X-A: b\x00c\r\n\r\n", 400, "close"),
    ("9112_5_fields", "bare_cr_in_value", GET + HOST + b"X-A: b\rc\r\n\r\n", 400, "close"),
    ("9112_5_fields", "lf_splits_value_into_colonless_line", GET + HOST + b"X-A: b\nc\r\n\r\n", 400, "close"),
    ("9112_5_fields", "control_char_in_value", GET + HOST + b"X-A: b\x01c\r\n\r\n", 400, "close"),
    ("9112_5_fields", "del_in_value", GET + HOST + b"X-A: b\x7fc\r\n\r\n", 400, "close"),
    ("9112_5_fields", "line_without_colon", GET + HOST + b"X-A b\r\n\r\n", 400, "close"),
    ("9112_5_fields", "empty_field_name", GET + HOST + b": b\r\n\r\n", 400, "close"),
    ("9112_5_fields", "non_token_in_name", GET + HOST + b"X(A): b\r\n\r\n", 400, "close"),
    ("9112_5_fields", "non_ascii_in_name", GET + HOST + b"X-\xc3\xa9: b\r\n\r\n", 400, "close"),
    ("9112_5_fields", "empty_value", GET + HOST + b"X-Empty:\r\n\r\n", 200, "open"),
    ("9112_5_fields", "obs_text_in_value", GET + HOST + b"X-A: caf\xc3\xa9 \xff\r\n\r\n", 200, "open"),
    ("9112_5_fields", "ows_around_value", GET + b"Host: \t a \t \r\n\r\n", 200, "open"),
    ("9112_5_fields", "no_space_after_colon", GET + b"Host:a\r\n\r\n", 200, "open"),
    ("9112_5_fields", "tab_inside_value", GET + HOST + b"X-A: b\tc\r\n\r\n", 200, "open"),

    # ---- RFC 9112 §6 body framing: Content-Length ----
    ("9112_6_content_length", "get_with_body_consumed", GET + HOST + b"Content-Length: 5\r\n\r\nGET /", 200, "open"),
    ("9112_6_content_length", "zero", GET + HOST + b"Content-Length: 0\r\n\r\n", 200, "open"),
    ("9112_6_content_length", "leading_zeros", GET + HOST + b"Content-Length: 0000000000000000000000005\r\n\r\nGET /", 200, "open"),
    ("9112_6_content_length", "trailing_ows", GET + HOST + b"Content-Length: 5 \t\r\n\r\nGET /", 200, "open"),
    # Choice (RFC 9110 §8.6 MAY): identical repeated values are folded into one.
    ("9112_6_content_length", "same_value_list", GET + HOST + b"Content-Length: 5, 5\r\n\r\nGET /", 200, "open"),
    ("9112_6_content_length", "same_value_two_lines",
     GET + HOST + b"Content-Length: 5\r\nContent-Length: 5\r\n\r\nGET /", 200, "open"),
    # §6.3: an invalid Content-Length MUST get 400 and a close.
    ("9112_6_content_length", "differing_list", GET + HOST + b"Content-Length: 5, 6\r\n\r\nGET /", 400, "close"),
    ("9112_6_content_length", "differing_lines",
     GET + HOST + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nGET /", 400, "close"),
    ("9112_6_content_length", "negative", GET + HOST + b"Content-Length: -1\r\n\r\n", 400, "close"),
    ("9112_6_content_length", "plus_sign", GET + HOST + b"Content-Length: +5\r\n\r\nGET /", 400, "close"),
    ("9112_6_content_length", "hex", GET + HOST + b"Content-Length: 0x5\r\n\r\nGET /", 400, "close"),
    ("9112_6_content_length", "not_a_number", GET + HOST + b"Content-Length: abc\r\n\r\n", 400, "close"),
    ("9112_6_content_length", "empty", GET + HOST + b"Content-Length:\r\n\r\n", 400, "close"),
    ("9112_6_content_length", "inner_space", GET + HOST + b"Content-Length: 1 0\r\n\r\n0123456789", 400, "close"),
    ("9112_6_content_length", "empty_list_element", GET + HOST + b"Content-Length: 5,\r\n\r\nGET /", 400, "close"),
    # Choice: a numeral that overflows 64 bits is refused as invalid (400), not as too large (413).
    ("9112_6_content_length", "overflow_64_bit", GET + HOST + b"Content-Length: 18446744073709551616\r\n\r\n", 400, "close"),
    ("9112_6_content_length", "no_length_means_no_body",
     b"POST /plaintext HTTP/1.1\r\n" + HOST + b"\r\n", 405, "open"),

    # ---- RFC 9112 §6.1, §6.3 body framing: Transfer-Encoding ----
    ("9112_6_transfer_encoding", "chunked", GET + HOST + CHUNKED + b"\r\n5\r\nhello\r\n0\r\n\r\n", 200, "open"),
    ("9112_6_transfer_encoding", "chunked_case_insensitive",
     GET + HOST + b"Transfer-Encoding: ChUnKeD\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 200, "open"),
    ("9112_6_transfer_encoding", "chunked_with_ows_and_empty_elements",
     GET + HOST + b"Transfer-Encoding: , chunked \r\n\r\n0\r\n\r\n", 200, "open"),
    # §6.3 item 4: chunked not final -> MUST 400 and close.
    ("9112_6_transfer_encoding", "unknown_coding_alone", GET + HOST + b"Transfer-Encoding: gzip\r\n\r\n", 400, "close"),
    ("9112_6_transfer_encoding", "identity", GET + HOST + b"Transfer-Encoding: identity\r\n\r\n", 400, "close"),
    ("9112_6_transfer_encoding", "chunked_not_last",
     GET + HOST + b"Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400, "close"),
    ("9112_6_transfer_encoding", "chunked_lookalike",
     GET + HOST + b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 400, "close"),
    ("9112_6_transfer_encoding", "empty_value", GET + HOST + b"Transfer-Encoding:\r\n\r\n", 400, "close"),
    # Choice: chunked applied twice is refused (a sender MUST NOT apply it more than once).
    ("9112_6_transfer_encoding", "chunked_twice_in_list",
     GET + HOST + b"Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n0\r\n\r\n", 400, "close"),
    ("9112_6_transfer_encoding", "chunked_twice_two_lines",
     GET + HOST + CHUNKED + CHUNKED + b"\r\n0\r\n\r\n", 400, "close"),
    # §6.1: SHOULD answer 501 to a transfer coding it does not understand; closed afterwards.
    ("9112_6_transfer_encoding", "unknown_coding_then_chunked_501",
     GET + HOST + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501, "close"),
    # §6.1: TE with CL: MAY reject, MUST close either way. Choice: reject with 400.
    ("9112_6_transfer_encoding", "te_and_cl",
     GET + HOST + b"Content-Length: 5\r\n" + CHUNKED + b"\r\n0\r\n\r\n", 400, "close"),
    ("9112_6_transfer_encoding", "cl_zero_and_te",
     GET + HOST + CHUNKED + b"Content-Length: 0\r\n\r\n0\r\n\r\n", 400, "close"),
    # §6.1: TE in an HTTP/1.0 message MUST be treated as faulty framing and the connection closed.
    ("9112_6_transfer_encoding", "te_on_http_1_0",
     b"GET /plaintext HTTP/1.0\r\n" + CHUNKED + b"\r\n0\r\n\r\n", 400, "close"),
    ("9112_6_transfer_encoding", "te_on_http_1_0_keep_alive",
     b"GET /plaintext HTTP/1.0\r\nConnection: keep-alive\r\n" + CHUNKED + b"\r\n0\r\n\r\n", 400, "close"),

    # ---- RFC 9112 §7 chunked coding ----
    ("9112_7_chunked", "several_chunks", GET + HOST + CHUNKED + b"\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", 200, "open"),
    ("9112_7_chunked", "uppercase_hex", GET + HOST + CHUNKED + b"\r\nA\r\n0123456789\r\n0\r\n\r\n", 200, "open"),
    ("9112_7_chunked", "lowercase_hex", GET + HOST + CHUNKED + b"\r\na\r\n0123456789\r\n0\r\n\r\n", 200, "open"),
    ("9112_7_chunked", "leading_zeros_in_size", GET + HOST + CHUNKED + b"\r\n0005\r\nhello\r\n000\r\n\r\n", 200, "open"),
    ("9112_7_chunked", "empty_body", GET + HOST + CHUNKED + b"\r\n0\r\n\r\n", 200, "open"),
    # §7.1.1: unrecognised chunk extensions MUST be ignored.
    ("9112_7_chunked", "extension_name_value", GET + HOST + CHUNKED + b"\r\n5;foo=bar\r\nhello\r\n0\r\n\r\n", 200, "open"),
    ("9112_7_chunked", "extension_quoted_value",
     GET + HOST + CHUNKED + b"\r\n5;a=\"x;y z\";b\r\nhello\r\n0;last\r\n\r\n", 200, "open"),
    ("9112_7_chunked", "extension_with_bws", GET + HOST + CHUNKED + b"\r\n5 ; a = b\r\nhello\r\n0\r\n\r\n", 200, "open"),
    # ext-name is a token (1*tchar); ";" with nothing after it is a grammar violation (§2.2 SHOULD 400).
    ("9112_7_chunked", "extension_without_name", GET + HOST + CHUNKED + b"\r\n5;\r\nhello\r\n0\r\n\r\n", 400, "close"),
    ("9112_7_chunked", "extension_control_char", GET + HOST + CHUNKED + b"\r\n5;a\x01\r\nhello\r\n0\r\n\r\n", 400, "close"),
    ("9112_7_chunked", "whitespace_after_size_without_extension",
     GET + HOST + CHUNKED + b"\r\n5 \r\nhello\r\n0\r\n\r\n", 400, "close"),
    # §7.1.2: trailer fields are allowed (and may be discarded).
    ("9112_7_chunked", "trailer_field", GET + HOST + CHUNKED + b"\r\n5\r\nhello\r\n0\r\nX-T: v\r\nX-U: w\r\n\r\n", 200, "open"),
    ("9112_7_chunked", "trailer_nul", GET + HOST + CHUNKED + b"\r\n0\r\nX-T: a\x00b\r\n\r\n", 400, "close"),
    ("9112_7_chunked", "trailer_obs_fold", GET + HOST + CHUNKED + b"\r\n0\r\nX-T: a\r\n b\r\n\r\n", 400, "close"),
    # trailer-section = *( field-line CRLF ): a line without a colon is a grammar violation (§2.2 SHOULD 400).
    ("9112_7_chunked", "trailer_line_without_colon", GET + HOST + CHUNKED + b"\r\n0\r\nnot a field\r\n\r\n", 400, "close"),
    ("9112_7_chunked", "size_not_hex", GET + HOST + CHUNKED + b"\r\nz\r\nhello\r\n0\r\n\r\n", 400, "close"),
    ("9112_7_chunked", "size_missing", GET + HOST + CHUNKED + b"\r\n\r\nhello\r\n0\r\n\r\n", 400, "close"),
    ("9112_7_chunked", "size_negative", GET + HOST + CHUNKED + b"\r\n-5\r\nhello\r\n0\r\n\r\n", 400, "close"),
    ("9112_7_chunked", "size_0x_prefix", GET + HOST + CHUNKED + b"\r\n0x5\r\nhello\r\n0\r\n\r\n", 400, "close"),
    # Choice: a size over 64 bits is refused as invalid (400) before any data is read.
    ("9112_7_chunked", "size_overflow_17_hex_digits",
     GET + HOST + CHUNKED + b"\r\n10000000000000000\r\nhello\r\n0\r\n\r\n", 400, "close"),
    ("9112_7_chunked", "size_max_u64_over_max_body_413",
     GET + HOST + CHUNKED + b"\r\nFFFFFFFFFFFFFFFF\r\nhello\r\n0\r\n\r\n", 413, "close"),
    ("9112_7_chunked", "data_longer_than_size", GET + HOST + CHUNKED + b"\r\n5\r\nhello!\r\n0\r\n\r\n", 400, "close"),
    ("9112_7_chunked", "missing_crlf_after_data", GET + HOST + CHUNKED + b"\r\n5\r\nhello0\r\n\r\n", 400, "close"),
    # Chunk lines need CRLF: the bare-LF leniency of §2.2 covers start-line and fields only.
    ("9112_7_chunked", "bare_lf_after_size", GET + HOST + CHUNKED + b"\r\n5\nhello\r\n0\r\n\r\n", 400, "close"),
    ("9112_7_chunked", "bare_lf_after_data", GET + HOST + CHUNKED + b"\r\n5\r\nhello\n0\r\n\r\n", 400, "close"),
    ("9112_7_chunked", "missing_last_chunk_next_request_is_not_a_size",
     GET + HOST + CHUNKED + b"\r\n5\r\nhello\r\n", 400, "close"),

    # ---- RFC 9112 §9.3 persistence ----
    ("9112_9_3_persistence", "http_1_1_default_persistent", OK, 200, "open", {"no_header": ["connection"]}),
    ("9112_9_3_persistence", "http_1_1_keep_alive_token", GET + HOST + b"Connection: keep-alive\r\n\r\n", 200, "open"),
    ("9112_9_3_persistence", "http_1_1_close", GET + HOST + b"Connection: close\r\n\r\n", 200, "close"),
    ("9112_9_3_persistence", "http_1_1_close_case_insensitive", GET + HOST + b"Connection: CLOSE\r\n\r\n", 200, "close"),
    ("9112_9_3_persistence", "http_1_1_close_in_list", GET + HOST + b"Connection: keep-alive, close\r\n\r\n", 200, "close"),
    ("9112_9_3_persistence", "http_1_1_close_on_404", b"GET /nope HTTP/1.1\r\n" + HOST + b"Connection: close\r\n\r\n", 404, "close"),
    ("9112_9_3_persistence", "http_1_0_default_close", b"GET /plaintext HTTP/1.0\r\n\r\n", 200, "close", {"body": HELLO}),
    ("9112_9_3_persistence", "http_1_0_head_default_close", b"HEAD /plaintext HTTP/1.0\r\n\r\n", 200, "close"),
    # Choice: the HTTP/1.0 keep-alive mechanism is honoured (RFC 9112 §9.3 allows it).
    ("9112_9_3_persistence", "http_1_0_keep_alive",
     b"GET /plaintext HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 200, "open", {"headers": {"connection": "keep-alive"}}),
    ("9112_9_3_persistence", "http_1_0_keep_alive_case",
     b"GET /plaintext HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 200, "open"),
    ("9112_9_3_persistence", "http_1_0_keep_alive_and_close",
     b"GET /plaintext HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", 200, "close"),
    ("9112_9_3_persistence", "http_1_0_keep_alive_with_body",
     b"GET /plaintext HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabc", 200, "open"),

    # ---- RFC 9110 §10.1.1 Expect (whole request in one write) ----
    # Choice: with the content already received the interim 100 is omitted (MAY).
    ("9110_10_1_1_expect", "continue_with_body_present",
     GET + HOST + b"Expect: 100-continue\r\nContent-Length: 5\r\n\r\nhello", 200, "open"),
    ("9110_10_1_1_expect", "continue_no_content", GET + HOST + b"Expect: 100-continue\r\n\r\n", 200, "open"),
    ("9110_10_1_1_expect", "continue_case_insensitive",
     GET + HOST + b"Expect: 100-Continue\r\nContent-Length: 1\r\n\r\nx", 200, "open"),
    # Choice: an unsupported expectation gets 417 (MAY), and the connection is closed.
    ("9110_10_1_1_expect", "unknown_expectation_417", GET + HOST + b"Expect: teapot\r\n\r\n", 417, "close"),

    # ---- RFC 9110 limits (server started with small limits) ----
    ("9110_limits", "request_line_at_limit", line_of(MAX_REQUEST_LINE) + b"\r\n" + HOST + b"\r\n", 404, "open"),
    ("9110_limits", "request_line_over_limit_414", line_of(MAX_REQUEST_LINE + 1) + b"\r\n" + HOST + b"\r\n", 414, "close"),
    ("9110_limits", "head_bytes_at_limit", head_of(MAX_HEADER_BYTES), 200, "open"),
    ("9110_limits", "head_bytes_over_limit_431", head_of(MAX_HEADER_BYTES + 1), 431, "close"),
    ("9110_limits", "field_count_at_limit", with_fields(MAX_HEADERS), 200, "open"),
    ("9110_limits", "field_count_over_limit_431", with_fields(MAX_HEADERS + 1), 431, "close"),
    ("9110_limits", "content_length_at_limit", body_req(MAX_BODY), 200, "open"),
    ("9110_limits", "content_length_over_limit_413", body_req(MAX_BODY + 1), 413, "close"),
    ("9110_limits", "chunked_at_limit",
     GET + HOST + CHUNKED + b"\r\n200\r\n" + b"a" * 512 + b"\r\n200\r\n" + b"b" * 512 + b"\r\n0\r\n\r\n", 200, "open"),
    ("9110_limits", "chunked_over_limit_413",
     GET + HOST + CHUNKED + b"\r\n200\r\n" + b"a" * 512 + b"\r\n201\r\n" + b"b" * 513 + b"\r\n0\r\n\r\n", 413, "close"),
    ("9110_limits", "huge_content_length_413", GET + HOST + b"Content-Length: 99999999999\r\n\r\n", 413, "close"),
]


def is_head(raw):
    return raw.lstrip(b"\r\n").startswith(b"HEAD ")


class ConformanceTest(conformance_helpers.ServerCase):
    ARGS = LIMIT_ARGS

    def check_case(self, raw, status, conn, checks):
        with self.conn() as c:
            try:
                c.send(raw + FOLLOW)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server may have refused early; the response is still readable
            version, got, headers, body, head_bytes = c.response_full(head=is_head(raw))
            if isinstance(status, tuple):
                self.assertIn(got, status, f"status; response head:\n{head_bytes!r}")
            else:
                self.assertEqual(got, status, f"status; response head:\n{head_bytes!r}")
            for name, value in checks.get("headers", {}).items():
                self.assertEqual(headers.get(name), value, f"header {name}; response head:\n{head_bytes!r}")
            for name in checks.get("no_header", []):
                self.assertNotIn(name, headers, f"response head:\n{head_bytes!r}")
            if "body" in checks:
                self.assertEqual(body, checks["body"])
            if conn == "open":
                self.assertNotIn("close", headers.get("connection", "").lower(), "response announced a close")
                _, follow_status, _, follow_body, follow_head = c.response_full()
                self.assertEqual((follow_status, follow_body), (200, HELLO),
                                 f"follow-up on the same connection; head:\n{follow_head!r}")
                self.assertEqual(c.buf, b"", "unexpected extra bytes after the follow-up response")
            else:
                if version == "HTTP/1.1":  # RFC 9112 §9.6: announce the close
                    self.assertIn("close", headers.get("connection", "").lower(),
                                  f"no Connection: close; response head:\n{head_bytes!r}")
                self.assertTrue(c.closed(3.0), "server did not close the connection")
                self.assertEqual(c.buf, b"", "server answered after deciding to close")


def _slug(s):
    return re.sub(r"[^0-9A-Za-z_]+", "_", s)


def _make_case(raw, status, conn, checks):
    def test(self):
        self.check_case(raw, status, conn, checks)
    return test


def _make_health():
    def test(self):
        self.assert_healthy()
    return test


def _generate():
    groups = []
    seen = set()
    for i, case in enumerate(CASES):
        group, name, raw, status, conn = case[:5]
        checks = case[5] if len(case) > 5 else {}
        assert conn in ("open", "close"), name
        if group not in groups:
            groups.append(group)
        g = groups.index(group)
        method = f"test_{g:02d}_{_slug(group)}_{i:03d}_{_slug(name)}"
        assert method not in seen, method
        seen.add(method)
        test = _make_case(raw, status, conn, checks)
        test.__doc__ = f"{group}: {raw[:60]!r} -> {status} {conn}"
        setattr(ConformanceTest, method, test)
    for g, group in enumerate(groups):
        setattr(ConformanceTest, f"test_{g:02d}_{_slug(group)}_zz_server_healthy", _make_health())


_generate()


if __name__ == "__main__":
    rftest.main()
