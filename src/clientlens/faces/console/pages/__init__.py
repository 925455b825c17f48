"""The console's pages, one module each; every one is a face over the services."""
