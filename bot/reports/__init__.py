"""Reports as pictures: the leads of a period as a funnel, days, sources and responsibles."""
