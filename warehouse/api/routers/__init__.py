"""One router per resource; warehouse.api.main assembles them."""
