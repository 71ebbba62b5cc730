"""One call's life: IVR -> queue -> offer -> bridge -> wrap-up."""
