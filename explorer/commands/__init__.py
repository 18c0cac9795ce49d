"""One module per `fastvlm-explore` subcommand; each defines `register(subparsers)`."""
