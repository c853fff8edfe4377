"""The sync contract: the one package the box (``appliance``) and ``central`` share.

* :mod:`.protocol`: frames, signatures, compression and the streams;
* :mod:`.kinds`: every synced kind, declared once (payload, stream, blobs, semantics,
  sender);
* :mod:`.handlers`: the registry each side applies received kinds through;
* :mod:`.usb`: the layout of a sync USB stick;
* :mod:`.atomic`: the one atomic, durable file write.

It imports nothing from the box or central; central imports nothing else from the box.
"""
