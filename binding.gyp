{
  # sanitize=1: AddressSanitizer + UBSan (npm run test:asan).
  # werror=1: warnings fail the build. This repo's CI and dev builds set
  # INOTIFY_NATIVE_WERROR=1; a consumer's install (a newer compiler with new
  # warnings) must never fail on a warning.
  "variables": {
    "sanitize%": 0,
    "werror%": "<!(node -p \"process.env.INOTIFY_NATIVE_WERROR === '1' ? 1 : 0\")"
  },
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
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-fvisibility=hidden", "-fstack-protector-strong"],
      "conditions": [
        ["werror==1", { "cflags_cc": ["-Werror"] }],
        # Fortify needs the optimizer and does not mix with the sanitizers.
        ["sanitize==0", { "cflags_cc": ["-U_FORTIFY_SOURCE", "-D_FORTIFY_SOURCE=2"] }],
        ["sanitize==1", {
          "cflags_cc": ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined"],
          "ldflags": ["-fsanitize=address,undefined"]
        }]
      ]
    }
  ]
}
