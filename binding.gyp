{
  "variables": { "sanitize%": 0 },
  "targets": [
    {
      "target_name": "inotify_native",
      "sources": [
        "native/addon.cc",
        "native/watcher.cc",
        "native/errors.cc",
        "native/inotify.cc",
        "native/readdir.cc"
      ],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api"],
      "defines": [
        "NAPI_VERSION=8",
        # A throw while a worker is being terminated cannot reach JS; without
        # this, node-addon-api turns that into a fatal error (process abort).
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"
      ],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Werror", "-fvisibility=hidden"],
      "conditions": [
        ["sanitize==1", {
          "cflags_cc": ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined"],
          "ldflags": ["-fsanitize=address,undefined"]
        }]
      ]
    }
  ]
}
