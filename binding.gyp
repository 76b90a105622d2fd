{
  "targets": [
    {
      "target_name": "switchyard",
      "sources": ["native/addon.cc", "native/errors.cc", "native/fd.cc", "native/fd_passing.cc", "native/msg_queue.cc", "native/shm_ring.cc", "native/shm_link.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-fexceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags": ["-pthread"],
      "ldflags": ["-pthread"],
      "libraries": ["-lrt"]
    }
  ]
}
