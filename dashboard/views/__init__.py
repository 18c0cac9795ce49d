"""One module per dashboard page; each has `render(ctx)` (ctx: dashboard.sidebar.Context)."""
