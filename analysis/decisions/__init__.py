"""The decision stage: the store's actions, their effects with bootstrap intervals and a price, and the experiment plan."""
