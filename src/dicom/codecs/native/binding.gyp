{
  "targets": [
    {
      "target_name": "ctscope_openjpeg",
      "sources": ["openjpeg.c"],
      "cflags": ["-O2", "-Wall", "<!@(pkg-config --cflags libopenjp2)"],
      "libraries": ["<!@(pkg-config --libs libopenjp2)"]
    }
  ]
}
