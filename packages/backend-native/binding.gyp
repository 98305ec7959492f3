{
  "targets": [
    {
      "target_name": "backend_native",
      "sources": ["native/backend_native.c", "native/bottleneck.c", "native/attention.c", "native/attention_train.c", "native/blas_select.c", "native/parallel.c", "native/external.c"],
      "cflags_c": ["-std=c11", "-pthread", "-O3", "-fno-math-errno", "-Wall", "-Wextra"],
      "libraries": ["-lopenblas", "-lm", "-lpthread", "-ldl"]
    }
  ]
}
