"""The offline library: ZIM files read with libzim."""
