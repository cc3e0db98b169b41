{
  "targets": [
    {
      "target_name": "meetedge_fastpath",
      "sources": ["native/fastpath.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["OPENSSL_SUPPRESS_DEPRECATED"],
      "conditions": [["OS!='linux'", { "type": "none" }]]
    }
  ]
}
