"""The real Docker engine lane (`make test-engine`): what the program declares for Docker hosts, created on a private
dockerd as the docker provider creates it and read back as its Read does, must differ in nothing that forces a
replacement or an update; and a host's life (config upload, reload, drain, hardening) with stand-in processes."""
