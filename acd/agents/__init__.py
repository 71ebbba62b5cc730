"""acd.agents"""
