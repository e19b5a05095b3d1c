"""Small helpers every layer of rotscan may import (formatting, JSON lines). Nothing here imports
another rotscan package, so no layer depends on another through them."""
