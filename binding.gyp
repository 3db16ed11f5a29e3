{
  "targets": [
    {
      "target_name": "loghouse_native",
      "sources": [
        "native/addon.cc",
        "native/allocator.cc",
        "native/crc32c.cc",
        "native/errors.cc",
        "native/file-io.cc",
        "native/frame.cc",
        "native/segment.cc",
        "native/segment-recovery.cc",
        "native/task.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++20", "-Wall", "-Wextra", "-Werror", "-fvisibility=hidden", "-O2"]
    }
  ]
}
