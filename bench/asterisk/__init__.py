"""acd against app_queue on one real Asterisk: the same SIPp ramp into each.

Callers from 127.0.0.2 dial 200 into `Stasis(acd)`; callers from 127.0.0.3 dial
200 into extensions.conf [queue-bench], which does what acd's bench flow does
(answer, a beep, press 1) and then `Queue(bench)`. Both queues hold the same 180
agents, whose one SIPp phone answers after 0.5 s and hangs up after 1 s of talk.
For each rising rate and each side: calls created, succeeded, failed, the rate
achieved, INVITE-to-200 p50/p99, pressing-1-to-agent-answer p50/p99, and the CPU
of Asterisk and of acd (a process of its own).
"""
