import { base44 } from './base44Client';

export const Task = base44.entities.Task;

export const Project = base44.entities.Project;

export const Comment = base44.entities.Comment;

// auth sdk:
export const User = base44.auth;
