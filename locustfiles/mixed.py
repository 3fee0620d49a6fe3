"""Locust entry file: the three services at once, by weight (no load shape imported).

Chat 8 : images 1 : API (completions and embeddings) 2 users, or, in open loop, requests
in the same proportions. Add a shape on the command line, as with ``chat.py``. The base
classes are reached through the module, so Locust only collects the three weighted ones.
"""

from locust import events

from locustfiles import users
from locustfiles.lifecycle import install


class MixedChatUser(users.ChatUser):
    weight = 8


class MixedImageUser(users.ImageUser):
    weight = 1


class MixedApiUser(users.ApiUser):
    weight = 2


__all__ = ["MixedApiUser", "MixedChatUser", "MixedImageUser"]

install(events)
