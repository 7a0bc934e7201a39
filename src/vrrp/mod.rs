//! The VRRP protocol core (sans-IO): RFC 5798 state machine per instance.
