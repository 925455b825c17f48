"""Access channels and contact purposes: the vocabulary consents, the contact policy and
the contact log share.

Declared as data, one row per channel, like the tables in ``tables.py``: the consents
table's closed vocabularies, the policy loader's "did you mean", the CLI's help and
docs/contact-policy.md all read these declarations. A channel is *inbound* when the
customer comes to it (an impression at a touchpoint: a branch visit, the ATM screen,
the internet or mobile bank, a call the customer makes, the voice menu) and
*outbound* when the bank initiates the contact (a telemarketing call, an SMS, an
e-mail, a letter).
"""

from __future__ import annotations

from dataclasses import dataclass

INBOUND = "inbound"
OUTBOUND = "outbound"


@dataclass(frozen=True)
class Channel:
    name: str
    direction: str  # INBOUND or OUTBOUND
    label: str  # how explanations name it ("SMS weekly cap 2 of 2")
    description: str


CONTACT_CHANNELS: dict[str, Channel] = {c.name: c for c in (
    Channel("branch", INBOUND, "branch", "A conversation at a branch the customer visits."),
    Channel("atm", INBOUND, "ATM", "A message on the ATM screen during a session."),
    Channel("internet", INBOUND, "internet bank", "A banner or message in the internet bank."),
    Channel("mobile", INBOUND, "mobile app", "A message in the mobile app while it is open."),
    Channel("inbound_call", INBOUND, "inbound call",
            "An offer made while the customer calls the contact centre."),
    Channel("ivr", INBOUND, "IVR", "A message in the voice menu the customer calls."),
    Channel("outbound_call", OUTBOUND, "outbound call",
            "A call the bank makes (telemarketing, service calls)."),
    Channel("sms", OUTBOUND, "SMS", "A text message to the customer's phone."),
    Channel("email", OUTBOUND, "e-mail", "An e-mail to the customer."),
    Channel("post", OUTBOUND, "post", "A letter to the customer's address."),
)}

# Why the bank contacts a customer; a consent is given or withdrawn per purpose.
CONTACT_PURPOSES: dict[str, str] = {
    "service": "About products the customer holds: changes, reminders, security.",
    "marketing": "Offers of new products and promotions.",
    "cross_sell": "Offers related to products the customer holds.",
    "surveys": "Questions about the customer's satisfaction.",
}

# A consent record's purpose may be "all" (with channel "any"): the global
# do-not-contact when withdrawn, lifted by a later "all" granted.
ALL_PURPOSES = "all"
ANY_CHANNEL = "any"
CONSENT_STATUSES = ("granted", "withdrawn")
# What a contact led to, as recorded in the contact log.
OUTCOMES = ("contacted", "no_answer", "accepted", "declined", "complained")
